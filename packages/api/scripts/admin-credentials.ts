// The admin passwords `npm start` prints, kept per database in <state>/admin-credentials.json
// (mode 0600). One file for every database printed another database's password after a run with
// DATABASE_URL; keyed by the database's identity, each database gets back its own.
//
// The key is PostgreSQL's system identifier (fixed when a cluster is initialised, carried by its
// copies) with the database's name; PGlite has one too. Where pg_control_system() is not allowed
// (some managed services), the URL's host, port and database stand in.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Db } from "@meridian/db";
import { embeddedDataDir, runningEmbeddedDatabase, stateDir } from "@meridian/db/embedded";
import { checkPassword } from "../src/seed";

export interface SavedCredentials {
  email: string;
  password: string;
  /** Where the database was (host:port/name), for people reading the file. */
  database: string;
  savedAt: string;
}

export interface DatabaseIdentity {
  key: string;
  label: string;
}

export function credentialsFile(dir = stateDir()): string {
  return path.join(dir, "admin-credentials.json");
}

/** The single file that earlier versions wrote for every database. */
function legacyFile(file: string): string {
  return path.join(path.dirname(file), "admin-credentials.txt");
}

/** A path as short as it can be said: relative inside the current folder, absolute outside it. */
export function shortPath(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

/** Where the database is, for people: the state folder's embedded one, or host:port/name. */
export function databaseLabel(url: string): string {
  if (runningEmbeddedDatabase(embeddedDataDir())?.url === url)
    return `the embedded database in ${shortPath(embeddedDataDir())}`;
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
}

export async function databaseIdentity(db: Db, url: string): Promise<DatabaseIdentity> {
  const label = databaseLabel(url);
  const [{ name } = { name: "" }] = await db.$queryRaw<{ name: string }[]>`SELECT current_database() AS name`;
  try {
    const [{ id } = { id: "" }] = await db.$queryRaw<
      { id: string }[]
    >`SELECT system_identifier::text AS id FROM pg_control_system()`;
    return { key: `postgresql:${id}/${name}`, label };
  } catch {
    return { key: `url:${label}`, label };
  }
}

type Store = { databases: Record<string, SavedCredentials> };

function readStore(file: string): Store {
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as Partial<Store>;
    return { databases: s.databases ?? {} };
  } catch {
    return { databases: {} };
  }
}

export function savedCredentials(file: string, key: string): SavedCredentials | undefined {
  return readStore(file).databases[key];
}

export function saveCredentials(
  file: string,
  id: DatabaseIdentity,
  creds: { email: string; password: string },
): void {
  const store = readStore(file);
  store.databases[id.key] = { ...creds, database: id.label, savedAt: new Date().toISOString() };
  mkdirSync(path.dirname(file), { recursive: true });
  // Written whole, then renamed: an interrupted write never leaves every database's entry lost.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/**
 * The password that signs `email` in to this database, if this state folder knows it: the saved
 * entry, checked against the account as it is now (a password changed in the console, or a
 * database re-created under the same name, make it wrong). An old single-file password that
 * still fits is moved into the new file.
 */
export async function knownPassword(
  db: Db,
  file: string,
  id: DatabaseIdentity,
  email: string,
): Promise<{ password: string } | { unknown: "wrong" | "disabled" | "not saved" | "no such user" }> {
  const saved = savedCredentials(file, id.key);
  if (saved && saved.email === email) {
    const check = await checkPassword(db, email, saved.password);
    if (check === "ok") return { password: saved.password };
    if (check !== "wrong") return { unknown: check };
  }
  const legacy = legacyFile(file);
  if (existsSync(legacy)) {
    const text = readFileSync(legacy, "utf8");
    const password = /^password: (.+)$/m.exec(text)?.[1];
    if (/^email: (.+)$/m.exec(text)?.[1] === email && password) {
      if ((await checkPassword(db, email, password)) === "ok") {
        saveCredentials(file, id, { email, password });
        rmSync(legacy, { force: true });
        return { password };
      }
    }
  }
  return { unknown: saved ? "wrong" : "not saved" };
}
