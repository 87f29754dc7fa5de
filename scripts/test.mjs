#!/usr/bin/env node
// `npm test`: set up what is missing, start a real PostgreSQL on loopback (unless DATABASE_URL
// is given), prepare a migrated template database for this run, run every package's tests
// through turbo, and end with the totals of all suites on one line: `N passed, N failed`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { isRoot, root, setup } from "./setup.mjs";
import { createTemplateDatabase, dropRunDatabases } from "./test-db.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    filter: { type: "string", multiple: true },
    concurrency: { type: "string", default: "2" },
    "skip-setup": { type: "boolean", default: false },
  },
});

const PG_PORT = Number(process.env.MERIDIAN_TEST_PG_PORT ?? 5439);
const PG_CLUSTER = "meridian";
const resultsDir = path.join(root, ".meridian", "test-results");

function log(msg) {
  console.log(`test: ${msg}`);
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: "utf8", ...opts });
}

/** A PostgreSQL cluster of Debian's on 127.0.0.1:PG_PORT, created once, trust auth on loopback only. */
function ensurePostgres() {
  if (!existsSync("/usr/lib/postgresql")) {
    throw new Error("PostgreSQL is not installed and could not be installed (see the set-up output above)");
  }
  const version = readdirSync("/usr/lib/postgresql")
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))[0];
  const list = sh("pg_lsclusters", ["--no-header"]).stdout ?? "";
  const line = list.split("\n").find((l) => l.split(/\s+/)[1] === PG_CLUSTER);
  if (!line) {
    if (!isRoot()) throw new Error("creating the test PostgreSQL cluster needs root; or set DATABASE_URL");
    log(`creating PostgreSQL ${version} cluster "${PG_CLUSTER}" on 127.0.0.1:${PG_PORT}`);
    const r = sh(
      "pg_createcluster",
      [
        version,
        PG_CLUSTER,
        "--port",
        String(PG_PORT),
        "--start",
        "--",
        "--auth-local=trust",
        "--auth-host=trust",
      ],
      { stdio: "inherit" },
    );
    if (r.status !== 0) throw new Error("pg_createcluster failed");
  } else if (!line.includes("online")) {
    const [ver] = line.split(/\s+/);
    log(`starting PostgreSQL cluster "${PG_CLUSTER}"`);
    const r = sh("pg_ctlcluster", [ver, PG_CLUSTER, "start"], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("pg_ctlcluster start failed");
  }
  return `postgresql://postgres@127.0.0.1:${PG_PORT}/postgres`;
}

function summarise() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const rows = [];
  if (!existsSync(resultsDir)) return { passed, failed, skipped, rows };
  for (const f of readdirSync(resultsDir)
    .filter((x) => x.endsWith(".json"))
    .sort()) {
    const suite = f.replace(/\.json$/, "");
    try {
      const r = JSON.parse(readFileSync(path.join(resultsDir, f), "utf8"));
      // A file that failed to load counts as a failure even if it holds no test.
      const brokenFiles = (r.testResults ?? []).filter(
        (t) => t.status === "failed" && (t.assertionResults ?? []).length === 0,
      ).length;
      const p = r.numPassedTests ?? 0;
      let fl = (r.numFailedTests ?? 0) + brokenFiles;
      // Vitest reports unhandled errors (e.g. an uncaught exception after a test) only as
      // success=false: count the suite as failed so such a run can never look green.
      let note;
      if (r.success === false && fl === 0) {
        fl = 1;
        note = "unhandled errors during the run (see its output)";
      }
      const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      passed += p;
      failed += fl;
      skipped += s;
      rows.push({ suite, passed: p, failed: fl, skipped: s, note });
    } catch (err) {
      failed += 1;
      rows.push({ suite, passed: 0, failed: 1, skipped: 0, note: `unreadable report: ${err.message}` });
    }
  }
  return { passed, failed, skipped, rows };
}

/** Test tasks that exited non-zero, from turbo's run summary (.turbo/runs/<id>.json, newest). */
function failedTasks() {
  const dir = path.join(root, ".turbo", "runs");
  if (!existsSync(dir)) return [];
  const newest = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t)[0];
  if (!newest) return [];
  try {
    const run = JSON.parse(readFileSync(path.join(dir, newest.f), "utf8"));
    return (run.tasks ?? [])
      .filter((t) => t.task === "test" && t.execution && t.execution.exitCode !== 0)
      .map((t) => t.taskId);
  } catch {
    return [];
  }
}

function main() {
  const t0 = Date.now();
  if (!values["skip-setup"]) setup({ profile: "test" });

  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) serverUrl = ensurePostgres();
  const runId = `meridian_run_${Date.now().toString(36)}`;
  const template = `${runId}_template`;
  log(`preparing template database ${template}`);
  try {
    createTemplateDatabase(serverUrl, template);
  } catch (err) {
    dropRunDatabases(serverUrl, runId, log);
    throw err;
  }

  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const filters = (values.filter ?? []).map((f) => `--filter=${f}`);
  const env = {
    ...process.env,
    DATABASE_URL: serverUrl,
    MERIDIAN_TEST_SERVER_URL: serverUrl,
    MERIDIAN_TEST_TEMPLATE: template,
    MERIDIAN_TEST_RUN: runId,
    FORCE_COLOR: "0",
  };
  const turbo = sh(
    "npx",
    [
      "turbo",
      "run",
      "test",
      "--continue",
      `--concurrency=${values.concurrency}`,
      "--log-order=grouped",
      "--summarize",
      ...filters,
      ...positionals,
    ],
    { cwd: root, env, stdio: "inherit" },
  );
  // This run's databases only: a second run on the same server (another checkout) keeps its own.
  dropRunDatabases(serverUrl, runId, log);

  const { rows } = summarise();
  // A suite whose task failed although its report counts no failed test (an unhandled error,
  // a crash before the report was written) is a failure too.
  for (const t of failedTasks()) {
    const suite = t.replace(/^@meridian\//, "").replace(/#test$/, "");
    const row = rows.find((r) => r.suite === suite);
    if (!row)
      rows.push({ suite, passed: 0, failed: 1, skipped: 0, note: "crashed before writing its report" });
    else if (row.failed === 0) {
      row.failed = 1;
      row.note = "the suite failed outside its tests (see its output)";
    }
  }
  // Static checks count as suites of their own: lint (Biome) and types (tsc in every package).
  if (!values.filter?.length) {
    for (const [suite, args] of [
      ["lint", ["biome", "check", "."]],
      ["typecheck", ["turbo", "run", "typecheck", "--output-logs=errors-only", "--log-prefix=none"]],
    ]) {
      log(`running ${suite}`);
      const r = sh("npx", args, { cwd: root, stdio: "inherit", env });
      rows.push({ suite, passed: r.status === 0 ? 1 : 0, failed: r.status === 0 ? 0 : 1, skipped: 0 });
    }
  }
  const passed = rows.reduce((n, r) => n + r.passed, 0);
  const failed = rows.reduce((n, r) => n + r.failed, 0);
  const skipped = rows.reduce((n, r) => n + r.skipped, 0);
  console.log("");
  for (const r of rows) {
    console.log(
      `  ${r.suite.padEnd(14)} ${String(r.passed).padStart(5)} passed ${String(r.failed).padStart(4)} failed ${String(r.skipped).padStart(4)} skipped${r.note ? `  (${r.note})` : ""}`,
    );
  }
  let extraFailed = 0;
  if (turbo.status !== 0 && failed === 0) {
    log("turbo failed without a failing suite (see its output above)");
    extraFailed = 1;
  }
  log(`finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`${passed} passed, ${failed + extraFailed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  process.exit(failed + extraFailed > 0 ? 1 : 0);
}

try {
  main();
} catch (err) {
  console.error(`test: ${err.message}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
