#!/usr/bin/env node
// `npm start`: set up what is missing, open the database (DATABASE_URL, or the embedded one in the
// state folder), apply migrations, seed an admin and examples, build and serve the console with
// its API on http://localhost:3000, bring up the demo lab where the machine allows it, and say
// which parts cannot run here and why. Ctrl-C (or SIGTERM) stops everything it started.
//
//   npm start [-- --port 3000 --no-lab --skip-setup]
//   npm run dev          next dev instead (hot reload)
//
// State (embedded database, admin passwords per database, logs) lives in MERIDIAN_START_STATE_DIR,
// default .meridian/. Each part's full output is in <state>/logs/<part>.log; a failure is said in
// one line that names the part and the reason, with the path of that log.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { datapathSupport, root } from "./setup.mjs";
import { DEFAULT_LAB_PREFIX, demoLab } from "./start/demo-lab.mjs";
import { killAll, running, runPart, spawnPart, stopPart } from "./start/parts.mjs";
import { firstBuildError, howItEnded, lastSaid } from "./start/reasons.mjs";

const { values } = parseArgs({
  options: {
    dev: { type: "boolean", default: false },
    port: { type: "string", default: process.env.PORT ?? "3000" },
    "skip-setup": { type: "boolean", default: false },
    "no-lab": { type: "boolean", default: false },
  },
});

const EMBEDDED_PORT = Number(process.env.MERIDIAN_EMBEDDED_DB_PORT ?? 5488);
/** The same rule as stateDir() in prisma/src/embedded.ts, which the TypeScript parts use. */
const stateDir = process.env.MERIDIAN_START_STATE_DIR
  ? path.resolve(process.env.MERIDIAN_START_STATE_DIR)
  : path.join(root, ".meridian");
const logsDir = path.join(stateDir, "logs");
const labPrefix = process.env.MERIDIAN_LAB_PREFIX ?? DEFAULT_LAB_PREFIX;
/** Longest a stop may take before whatever is left is killed. */
const STOP_DEADLINE_MS = 15_000;

mkdirSync(logsDir, { recursive: true });
/** A path as short as it can be said: relative inside the current folder, absolute outside it. */
function rel(p) {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}
/** Each run starts each part's log afresh. */
function logFile(part) {
  const file = path.join(logsDir, `${part}.log`);
  rmSync(file, { force: true });
  return file;
}

function log(msg) {
  console.log(`meridian: ${msg}`);
}

// Every child gets the state folder, so the seed, the console and the lab agree on it.
const baseEnv = {
  ...process.env,
  MERIDIAN_START_STATE_DIR: stateDir,
  ...(process.env.MERIDIAN_SECRET_KEY || process.env.MERIDIAN_SECRET_KEY_FILE
    ? {}
    : { MERIDIAN_SECRET_KEY_FILE: path.join(stateDir, "secret.key") }),
};
const tsx = (script, ...args) => [process.execPath, "--import", "tsx", path.join(root, script), ...args];

let stopping = false;
let database = null;
let consolePart = null;
const lab = demoLab({ root, stateDir, prefix: labPrefix, logFile: logFile("demo-lab"), log });
let labEnv = baseEnv;

/** Stops what this npm start started: the lab and the console first, the database last. */
async function stopEverything() {
  const deadline = setTimeout(() => {
    log("stopping took too long: killing what is left");
    killAll();
    process.exit(1);
  }, STOP_DEADLINE_MS);
  await Promise.all([lab.stop(labEnv), stopPart(consolePart)]);
  await stopPart(database);
  await Promise.all([...running].map((p) => stopPart(p)));
  clearTimeout(deadline);
}

async function stop(why, exitCode) {
  if (stopping) return;
  stopping = true;
  if (why) log(why);
  await stopEverything();
  if (exitCode === 0) log("stopped: nothing npm start started is left running");
  process.exit(exitCode);
}

/** One or two sentences: the part, the reason, and where the whole story is. */
function report(part, reason, logPath) {
  const sentence = `${reason.trim().replace(/[.\s]+$/, "")}.`;
  console.error(`meridian: ${part} failed: ${sentence}${logPath ? ` Full log: ${rel(logPath)}` : ""}`);
}

/** A failure npm start cannot go on from: said, then everything is stopped. */
function fail(part, reason, logPath) {
  if (stopping) return new Promise(() => {});
  report(part, reason, logPath);
  return stop(null, 1);
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    void stop(`${sig === "SIGINT" ? "Ctrl-C" : sig}: stopping everything npm start started`, 0);
  });
}

async function setUp() {
  if (values["skip-setup"]) {
    return { datapath: datapathSupport(), unavailablePackages: [] };
  }
  const reportFile = path.join(logsDir, "setup-report.json");
  rmSync(reportFile, { force: true });
  const r = await runPart(
    "set-up",
    [process.execPath, path.join(root, "scripts", "setup.mjs"), "--profile", "start", "--report", reportFile],
    // In the terminal's process group: Ctrl-C reaches apt-get and npm ci as it would without us.
    { cwd: root, env: baseEnv, logFile: logFile("setup"), echo: true, foreground: true },
  );
  if (r.code !== 0 || !existsSync(reportFile)) return fail("set-up", lastSaid(r.output, "setup"), r.logFile);
  return JSON.parse(readFileSync(reportFile, "utf8"));
}

async function openDatabase() {
  const file = logFile("database");
  if (process.env.DATABASE_URL) {
    const r = await runPart("database", tsx("prisma/scripts/check-connection.ts"), {
      cwd: root,
      env: baseEnv,
      logFile: file,
    });
    if (r.code !== 0) return fail("the database", lastSaid(r.output, "db"), file);
    log(`using the database at ${new URL(process.env.DATABASE_URL).host}`);
    return process.env.DATABASE_URL;
  }
  const dataDir = path.join(stateDir, "pglite");
  log(`no DATABASE_URL: using the embedded database in ${rel(dataDir)}`);
  let ready;
  const url = new Promise((resolve) => {
    ready = resolve;
  });
  database = spawnPart(
    "embedded database",
    tsx("prisma/scripts/embedded-db.ts", dataDir, String(EMBEDDED_PORT), "--stop-on-stdin-close"),
    {
      cwd: root,
      env: baseEnv,
      logFile: file,
      onStdout: (out) => {
        const m = out.match(/embedded database ready at (\S+)/);
        if (m) ready(m[1]);
      },
    },
  );
  const part = database;
  const timer = setTimeout(() => fail("the embedded database", "it did not open within 90 s", file), 90_000);
  const ended = part.exited.then((e) =>
    fail("the embedded database", `it stopped (${howItEnded(e)}): ${lastSaid(part.output)}`, file),
  );
  const opened = await Promise.race([url, ended]);
  clearTimeout(timer);
  return opened;
}

async function migrate(env) {
  const r = await runPart("migrations", tsx("prisma/scripts/db.ts", "deploy"), {
    cwd: root,
    env,
    logFile: logFile("migrations"),
  });
  if (r.code !== 0) return fail("migrations", lastSaid(r.output, "db"), r.logFile);
  log(lastSaid({ stdout: r.output.stdout, stderr: "" }, "db"));
}

async function seed(env) {
  const r = await runPart("seed", tsx("packages/api/scripts/seed.ts", "--json"), {
    cwd: root,
    env,
    logFile: logFile("seed"),
  });
  if (r.code !== 0) return fail("seeding the database", lastSaid(r.output, "seed"), r.logFile);
  return JSON.parse(r.output.stdout.trim().split("\n").pop());
}

async function buildConsole(env) {
  log("building the console (skipped when nothing changed)");
  const r = await runPart(
    "console build",
    [
      path.join(root, "node_modules", ".bin", "turbo"),
      "run",
      "build",
      "--filter=@meridian/web",
      "--output-logs=errors-only",
    ],
    { cwd: root, env, logFile: logFile("console-build") },
  );
  if (r.code !== 0) return fail("the console's build", firstBuildError(r.output), r.logFile);
}

/** Serves the console; resolves once it answers. */
async function serveConsole(env) {
  const file = logFile("console");
  const web = path.join(root, "apps", "web");
  const argv = values.dev
    ? [
        process.execPath,
        path.join(root, "node_modules", "next", "dist", "bin", "next"),
        "dev",
        "-p",
        values.port,
      ]
    : [
        process.execPath,
        path.join(root, "scripts", "console-server.mjs"),
        "--port",
        values.port,
        "--stop-on-stdin-close",
      ];
  let ready;
  const isReady = new Promise((resolve) => {
    ready = resolve;
  });
  consolePart = spawnPart("console", argv, {
    cwd: web,
    env: { ...env, NODE_ENV: values.dev ? "development" : "production" },
    logFile: file,
    onStdout: (out) => {
      if (/console ready on port|Ready in|Local:/.test(out)) ready();
    },
  });
  const part = consolePart;
  let up = false;
  part.exited.then((e) =>
    fail(
      "the console",
      `${up ? "it stopped unexpectedly" : "it exited before it was ready"} (${howItEnded(e)}): ${lastSaid(part.output)}`,
      file,
    ),
  );
  await isReady;
  up = true;
}

function announce(info, admin) {
  const again = [
    process.env.DATABASE_URL ? "DATABASE_URL" : null,
    process.env.MERIDIAN_START_STATE_DIR ? "MERIDIAN_START_STATE_DIR" : null,
  ].filter(Boolean);
  const resetCommand = `npm run admin -- reset-password${again.length ? ` (with the same ${again.join(" and ")})` : ""}`;
  console.log("");
  log(`console and API: http://localhost:${values.port}`);
  if (admin.status === "unknown") {
    log(
      `${admin.email} exists in this database (${admin.database}), but its password is not known here: ${admin.why}. Set a new one with: ${resetCommand}`,
    );
  } else {
    log(
      `sign in as ${admin.email} with password ${admin.password} (${admin.status === "created" ? "created now" : "this database's admin"}; kept per database in ${rel(admin.file)})`,
    );
  }
  if (!info.datapath.ok) log(`agent datapath unavailable: ${info.datapath.why}`);
  if (info.unavailablePackages?.length) {
    log(`Debian packages not installed (${info.packagesReason}): ${info.unavailablePackages.join(" ")}`);
  }
  log(`logs: ${rel(logsDir)}/`);
  log("stop with Ctrl-C: it stops the console, the demo lab and the embedded database");
}

/** The demo lab (two nodes, labelled pods, agents joined to this console) where the machine allows it. */
async function startDemoLab(info, admin, env) {
  if (values["no-lab"]) return;
  if (!info.datapath.ok) return log(`demo lab not started: ${info.datapath.why}`);
  const email = process.env.MERIDIAN_LAB_EMAIL ?? admin.email;
  const password = process.env.MERIDIAN_LAB_PASSWORD ?? admin.password;
  if (!password) {
    return log(
      `demo lab not started: it signs in as ${email}, whose password is not known here; once it is reset (see above), the next npm start builds the lab (or set MERIDIAN_LAB_EMAIL and MERIDIAN_LAB_PASSWORD to another admin's)`,
    );
  }
  if (!labPrefix.startsWith("mrdlab")) {
    return report("the demo lab", `MERIDIAN_LAB_PREFIX "${labPrefix}" must start with "mrdlab"`, null);
  }
  labEnv = { ...env, MERIDIAN_LAB_EMAIL: email, MERIDIAN_LAB_PASSWORD: password };
  if (!(await lab.mayStart(labEnv)) || stopping) return;
  log("starting the demo lab: 2 nodes, labelled pods, agents joining this console");
  const ended = await lab.start(`http://127.0.0.1:${values.port}`, labEnv);
  if (stopping) return;
  const labLog = path.join(logsDir, "demo-lab.log");
  if (ended.code !== 0) {
    report("the demo lab", lastSaid(ended.output), labLog);
    return;
  }
  log("demo lab up: see Nodes in the console; npm start removes it when it stops");
  // Each demo says one line: what it did, or why it failed (the lab stays up without it).
  for (const demo of ["BGP", "DNS", "Egress"]) {
    const line = ended.output.stdout.split("\n").find((l) => l.startsWith(`${demo} demo`));
    const failed = `${demo} demo failed: `;
    if (line?.startsWith(failed)) {
      report(`the ${demo} demo`, `${line.slice(failed.length)}; the lab is up without it`, labLog);
    } else if (line) log(line);
  }
}

async function main() {
  const info = await setUp();
  const databaseUrl = await openDatabase();
  const env = { ...baseEnv, DATABASE_URL: databaseUrl };
  await migrate(env);
  const admin = await seed(env);
  if (!values.dev) await buildConsole(env);
  await serveConsole(env);
  announce(info, admin);
  await startDemoLab(info, admin, env);
}

main().catch((err) => {
  const file = logFile("npm-start");
  writeFileSync(file, `${err.stack ?? err}\n`);
  return fail("npm start", err.message ?? String(err), file);
});
