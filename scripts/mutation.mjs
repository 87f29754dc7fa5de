#!/usr/bin/env node
// `npm run mutation [-- <module>...]`: StrykerJS over the modules of mutation/modules.mjs (all of
// them when none is named), one after another, then the mutation score of each. A benchmark-style
// command, not part of `npm test` or CI: a module takes minutes to an hour on a 2-core machine.
// Modules whose tests need PostgreSQL get a migrated template database, as in scripts/test.mjs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { modules } from "../mutation/modules.mjs";
import { root } from "./setup.mjs";
import { createTemplateDatabase, dropRunDatabases, psql } from "./test-db.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: "string", default: "1" },
    list: { type: "boolean", default: false },
    // Part of a module only (comma-separated files or globs), e.g. when a whole run does not fit.
    mutate: { type: "string" },
    // Stryker's incremental mode: mutants whose code and covering tests are unchanged since the
    // last incremental run of the module keep their result (reports/mutation/<module>.incremental.json).
    incremental: { type: "boolean", default: false },
    // With --incremental: test every mutant again but still write the incremental file. Needed
    // after adding tests that aim at static mutants (module-level values): Stryker reuses their
    // "survived" because no test is recorded as covering them, so a new test is never tried.
    force: { type: "boolean", default: false },
  },
});

function log(msg) {
  console.log(`mutation: ${msg}`);
}

if (values.list) {
  for (const [name, m] of Object.entries(modules)) console.log(`${name.padEnd(12)} ${m.what}`);
  process.exit(0);
}
const names = positionals.length ? positionals : Object.keys(modules);
for (const n of names) {
  if (!modules[n]) {
    console.error(`mutation: no module "${n}"; the modules are: ${Object.keys(modules).join(", ")}`);
    process.exit(2);
  }
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: "utf8", ...opts });
}

/** The test server of scripts/test.mjs (DATABASE_URL, or the `meridian` cluster on 127.0.0.1:5439). */
function testServer() {
  const port = Number(process.env.MERIDIAN_TEST_PG_PORT ?? 5439);
  const url = process.env.DATABASE_URL ?? `postgresql://postgres@127.0.0.1:${port}/postgres`;
  try {
    psql(url, "SELECT 1");
    return url;
  } catch (err) {
    if (!process.env.DATABASE_URL) {
      const line = (sh("pg_lsclusters", ["--no-header"]).stdout ?? "")
        .split("\n")
        .find((l) => l.split(/\s+/)[1] === "meridian");
      if (line) {
        sh("pg_ctlcluster", [line.split(/\s+/)[0], "meridian", "start"], { stdio: "inherit" });
        psql(url, "SELECT 1");
        return url;
      }
    }
    throw new Error(
      `these modules' tests need PostgreSQL and ${url} cannot be reached (${err.message}): run \`npm test -- --filter=@meridian/db\` once (it creates the cluster), or set DATABASE_URL`,
    );
  }
}

/** Mutation score as Stryker counts it: detected (killed, timed out) of the valid mutants. */
function scoreOf(reportPath) {
  const report = JSON.parse(readFileSync(reportPath, "utf8"));
  const count = {};
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) count[m.status] = (count[m.status] ?? 0) + 1;
  }
  const killed = count.Killed ?? 0;
  const timeout = count.Timeout ?? 0;
  const survived = count.Survived ?? 0;
  const noCoverage = count.NoCoverage ?? 0;
  const valid = killed + timeout + survived + noCoverage;
  return {
    mutants: valid,
    killed,
    timeout,
    survived,
    noCoverage,
    invalid: (count.CompileError ?? 0) + (count.RuntimeError ?? 0),
    ignored: count.Ignored ?? 0,
    score: valid ? (100 * (killed + timeout)) / valid : 0,
  };
}

/**
 * A tsconfig for the TypeScript checker holding only the module's own files (their imports come
 * along): checking each mutant against the whole package took most of a run's time.
 */
function writeModuleTsconfig(name) {
  const dir = path.join(root, "mutation", "generated");
  mkdirSync(dir, { recursive: true });
  const globs = modules[name].mutate.filter((g) => !g.startsWith("!"));
  const excluded = modules[name].mutate.filter((g) => g.startsWith("!")).map((g) => `../../${g.slice(1)}`);
  const tsconfig = {
    extends: `../../${path.dirname(modules[name].tsconfig)}/tsconfig.json`,
    include: globs.map((g) => `../../${g}`),
    exclude: excluded,
  };
  writeFileSync(path.join(dir, `tsconfig.${name}.json`), `${JSON.stringify(tsconfig, null, 2)}\n`);
}

const reportsDir = path.join(root, "reports", "mutation");
mkdirSync(reportsDir, { recursive: true });
const runId = `meridian_mut_${Date.now().toString(36)}`;
let server;
let template;
const results = [];
try {
  if (names.some((n) => modules[n].db)) {
    server = testServer();
    template = `${runId}_template`;
    log(`preparing template database ${template}`);
    createTemplateDatabase(server, template);
  }
  for (const name of names) {
    const t0 = Date.now();
    writeModuleTsconfig(name);
    log(`${name}: ${modules[name].what}`);
    const env = {
      ...process.env,
      MERIDIAN_MUTATION_MODULE: name,
      MERIDIAN_MUTATION_CONCURRENCY: values.concurrency,
      FORCE_COLOR: "0",
      ...(server
        ? { MERIDIAN_TEST_SERVER_URL: server, MERIDIAN_TEST_TEMPLATE: template, MERIDIAN_TEST_RUN: runId }
        : {}),
    };
    const only = values.mutate ? ["--mutate", values.mutate] : [];
    const incremental = values.incremental
      ? [
          "--incremental",
          "--incrementalFile",
          path.join("reports", "mutation", `${name}.incremental.json`),
          ...(values.force ? ["--force"] : []),
        ]
      : [];
    const r = sh("npx", ["stryker", "run", "mutation/stryker.config.mjs", ...only, ...incremental], {
      cwd: root,
      env,
      stdio: "inherit",
    });
    const report = path.join(reportsDir, `${name}.json`);
    const minutes = (Date.now() - t0) / 60_000;
    if (r.status !== 0 || !existsSync(report)) {
      results.push({ name, error: `stryker exited with ${r.status ?? r.signal}`, minutes });
      continue;
    }
    results.push({ name, minutes, ...(values.mutate ? { only: values.mutate } : {}), ...scoreOf(report) });
  }
} finally {
  if (server) dropRunDatabases(server, runId, log);
}

const date = new Date().toISOString().slice(0, 10);
writeFileSync(path.join(reportsDir, `summary-${date}.json`), `${JSON.stringify(results, null, 2)}\n`);
console.log("");
console.log("module        mutants  killed timeout survived no-cov  score   minutes");
for (const r of results) {
  if (r.error) {
    console.log(`${r.name.padEnd(13)} ${r.error}`);
    continue;
  }
  console.log(
    `${r.name.padEnd(13)} ${String(r.mutants).padStart(7)} ${String(r.killed).padStart(7)} ${String(r.timeout).padStart(7)} ${String(r.survived).padStart(8)} ${String(r.noCoverage).padStart(6)} ${r.score.toFixed(1).padStart(6)}% ${r.minutes.toFixed(1).padStart(8)}`,
  );
}
process.exit(results.some((r) => r.error) ? 1 : 0);
