#!/usr/bin/env node
// `npm start`: set up what is missing, open the database (DATABASE_URL, or the embedded one
// under .meridian/), apply migrations, seed an admin and examples, build and start the console
// with its API on http://localhost:3000, and say which parts cannot run on this machine and why.
//
//   npm start            production build of the console
//   npm run dev          next dev instead (hot reload)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { root, setup } from "./setup.mjs";

const { values } = parseArgs({
  options: {
    dev: { type: "boolean", default: false },
    port: { type: "string", default: process.env.PORT ?? "3000" },
    "skip-setup": { type: "boolean", default: false },
    "no-lab": { type: "boolean", default: false },
  },
});

const EMBEDDED_PORT = Number(process.env.MERIDIAN_EMBEDDED_DB_PORT ?? 5488);
const children = [];

function log(msg) {
  console.log(`meridian: ${msg}`);
}

function fail(msg) {
  console.error(`meridian: ${msg}`);
  stopAll();
  process.exit(1);
}

function stopAll() {
  for (const c of children.reverse()) {
    if (c.exitCode === null) c.kill("SIGTERM");
  }
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    stopAll();
    setTimeout(() => process.exit(0), 500);
  });
}

function tsx(script, args, opts = {}) {
  return spawn(
    process.execPath,
    [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), script, ...args],
    {
      cwd: root,
      ...opts,
    },
  );
}

function runTsx(script, args, env) {
  const r = spawnSync(
    process.execPath,
    [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), script, ...args],
    {
      cwd: root,
      env,
      encoding: "utf8",
    },
  );
  return r;
}

async function startEmbeddedDatabase() {
  const dataDir = path.join(root, ".meridian", "pglite");
  log(`no DATABASE_URL: using the embedded database in ${path.relative(process.cwd(), dataDir) || dataDir}`);
  const child = tsx(
    path.join(root, "prisma", "scripts", "embedded-db.ts"),
    [dataDir, String(EMBEDDED_PORT)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  return await new Promise((resolve, reject) => {
    let out = "";
    const onData = (d) => {
      out += d;
      const m = out.match(/embedded database ready at (\S+)/);
      if (m) resolve(m[1]);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => reject(new Error(`the embedded database exited (${code}): ${out.trim()}`)));
    setTimeout(
      () => reject(new Error(`the embedded database did not start within 90 s: ${out.trim()}`)),
      90_000,
    );
  });
}

async function main() {
  let info = { datapath: { ok: false, why: "set-up skipped" }, unavailablePackages: [] };
  if (!values["skip-setup"]) {
    try {
      info = setup({ profile: "start" });
    } catch (err) {
      fail(`set-up failed: ${err.message}`);
    }
  }

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const r = runTsx(path.join(root, "prisma", "scripts", "check-connection.ts"), [], { ...process.env });
    if (r.status !== 0) fail((r.stderr || r.stdout).trim().replace(/^db: /, ""));
    log(`using the database at ${new URL(databaseUrl).host}`);
  } else {
    try {
      databaseUrl = await startEmbeddedDatabase();
    } catch (err) {
      fail(err.message);
    }
  }
  const env = { ...process.env, DATABASE_URL: databaseUrl };

  const deploy = runTsx(path.join(root, "prisma", "scripts", "db.ts"), ["deploy"], env);
  process.stdout.write(deploy.stdout);
  if (deploy.status !== 0) fail(`migrations failed: ${deploy.stderr.trim()}`);

  const seed = runTsx(path.join(root, "packages", "api", "scripts", "seed.ts"), [], env);
  if (seed.status !== 0) fail(`seeding failed: ${seed.stderr.trim() || seed.stdout.trim()}`);
  process.stdout.write(seed.stdout);

  const web = path.join(root, "apps", "web");
  if (!values.dev) {
    log("building the console (skipped when nothing changed)");
    const b = spawnSync(
      "npx",
      ["turbo", "run", "build", "--filter=@meridian/web", "--output-logs=errors-only"],
      {
        cwd: root,
        stdio: "inherit",
        env,
      },
    );
    if (b.status !== 0) fail("the console did not build");
  }
  const next = spawn(
    process.execPath,
    [
      path.join(root, "node_modules", "next", "dist", "bin", "next"),
      values.dev ? "dev" : "start",
      "-p",
      values.port,
    ],
    {
      cwd: web,
      env: { ...env, NODE_ENV: values.dev ? "development" : "production" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(next);
  next.on("exit", (code) => fail(`the console exited (${code})`));
  let announced = false;
  next.stdout.on("data", (d) => {
    process.stdout.write(d);
    if (!announced && /Ready|started server|Local:/i.test(String(d))) {
      announced = true;
      announce(values.port, info);
      startDemoLab(values.port, info, env);
    }
  });
}

/** The demo lab (two nodes, labelled pods, agents joined to this console) where the machine allows it. */
function startDemoLab(port, info, env) {
  if (values["no-lab"]) return;
  if (!info.datapath.ok) {
    log(`demo lab not started: ${info.datapath.why}`);
    return;
  }
  const status = spawnSync(process.execPath, [path.join(root, "e2e", "lab", "cli.mjs"), "status", "--json"], {
    cwd: root,
    encoding: "utf8",
  });
  if (status.status === 0 && /"namespaces":\s*\[\s*"/.test(status.stdout)) {
    log("demo lab already up (remove it with: npm run lab -- down)");
    return;
  }
  log("starting the demo lab: 2 nodes, labelled pods, agents joining this console");
  const lab = tsx(path.join(root, "scripts", "demo-lab.ts"), [`http://127.0.0.1:${port}`], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  lab.stdout.on("data", (d) => {
    out += d;
  });
  lab.stderr.on("data", (d) => {
    out += d;
  });
  lab.on("exit", (code) => {
    if (code === 0) {
      log("demo lab up: see Nodes in the console; remove it with: npm run lab -- down");
      const bgp = out.split("\n").find((l) => l.startsWith("BGP demo"));
      if (bgp) log(bgp);
    } else log(`demo lab failed (${code}): ${out.trim().split("\n").slice(-3).join(" | ")}`);
  });
}

function announce(port, info) {
  const creds = path.join(root, ".meridian", "admin-credentials.txt");
  console.log("");
  log(`console and API: http://localhost:${port}`);
  if (existsSync(creds)) {
    log(`admin sign-in: ${readFileSync(creds, "utf8").trim().split("\n").join("  ")}`);
    log(`(kept in ${path.relative(process.cwd(), creds)})`);
  }
  if (!info.datapath.ok) log(`agent datapath unavailable: ${info.datapath.why}`);
  if (info.unavailablePackages?.length) {
    log(`Debian packages not installed (${info.packagesReason}): ${info.unavailablePackages.join(" ")}`);
  }
  log("stop with Ctrl-C");
}

main().catch((err) => fail(err.stack ?? String(err)));
