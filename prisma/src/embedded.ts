// The embedded database for `npm start` without DATABASE_URL: PGlite (PostgreSQL 17 as WASM)
// served over TCP, so the app and the migrations use the same pg adapter as with a real server.
//
// PGlite is one process's files: two processes opening one data directory would corrupt it. The
// process serving it writes `<dataDir>.server.json` (its pid and URL); another process finds the
// running server there (`runningEmbeddedDatabase`) instead of opening the files a second time.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** Where npm start keeps its state: MERIDIAN_START_STATE_DIR, or .meridian/ in the checkout. */
export function stateDir(): string {
  const fromEnv = process.env.MERIDIAN_START_STATE_DIR;
  return fromEnv ? path.resolve(fromEnv) : path.resolve(import.meta.dirname, "..", "..", ".meridian");
}

export function embeddedDataDir(): string {
  return path.join(stateDir(), "pglite");
}

function serverFile(dataDir: string): string {
  return `${path.resolve(dataDir)}.server.json`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The server that has `dataDir` open right now, if any. */
export function runningEmbeddedDatabase(dataDir: string): { pid: number; url: string } | null {
  try {
    const info = JSON.parse(readFileSync(serverFile(dataDir), "utf8")) as { pid: number; url: string };
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

export async function startEmbeddedDatabase(opts: {
  dataDir: string;
  port: number;
  host?: string;
}): Promise<EmbeddedDatabase> {
  const running = runningEmbeddedDatabase(opts.dataDir);
  if (running) {
    throw new Error(
      `the embedded database in ${opts.dataDir} is already open in process ${running.pid} (serving ${running.url}); stop that process first`,
    );
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: opts.dataDir });
  const host = opts.host ?? "127.0.0.1";
  // PGlite is single-connection; the server multiplexes the app's pool over it.
  const server = new PGLiteSocketServer({ db, host, port: opts.port, maxConnections: 20 });
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    throw e.code === "EADDRINUSE"
      ? new Error(
          `port ${opts.port} on ${host} is already in use by another program (set MERIDIAN_EMBEDDED_DB_PORT to use another)`,
        )
      : err;
  }
  const url = `postgresql://postgres:postgres@${host}:${opts.port}/postgres?sslmode=disable`;
  const file = serverFile(opts.dataDir);
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, url })}\n`);
  return {
    url,
    async stop() {
      await server.stop();
      await db.close();
      if (existsSync(file)) rmSync(file, { force: true });
    },
  };
}
