// The test databases of one run, shared by scripts/test.mjs and scripts/mutation.mjs: a migrated
// template that each suite clones, and the run's databases dropped by their name prefix.
import { spawnSync } from "node:child_process";
import { root } from "./setup.mjs";

export function psql(url, sql) {
  const r = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

export function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Creates `template` on the server and runs the migrations on it; throws if they fail. */
export function createTemplateDatabase(serverUrl, template) {
  psql(serverUrl, `CREATE DATABASE "${template}"`);
  const deploy = spawnSync("npm", ["run", "--silent", "-w", "@meridian/db", "db", "--", "deploy"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: withDatabase(serverUrl, template) },
    stdio: "inherit",
  });
  if (deploy.status !== 0) throw new Error("migrations failed on the test template database");
}

/** Drops every database whose name starts with the run's prefix; a failure is logged, not thrown. */
export function dropRunDatabases(serverUrl, prefix, log) {
  try {
    const names = psql(serverUrl, `SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'`)
      .split("\n")
      .filter(Boolean);
    for (const n of names) psql(serverUrl, `DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`);
  } catch (err) {
    log(`could not drop this run's databases: ${err.message}`);
  }
}
