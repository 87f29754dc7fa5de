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
  keepSequencesWhole(server);
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

// PGlite is one session, and PGLiteSocketServer queues its clients' messages one message at a
// time: outside a transaction, client B's Parse could run between client A's Parse and Bind, so A
// bound B's statement (a wrong answer) and B's Bind found no statement ("unnamed prepared
// statement does not exist"), which agents saw under load on `npm start`. Here a client that has
// begun an extended-query sequence (Parse, Bind, Describe, Execute, Close, Flush) keeps the
// session until its Sync, as in a transaction (which the server already keeps whole).
const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]); // P B D E C H
const SYNC = 0x53; // S

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(err: unknown): void;
  onData(data: Uint8Array): void;
}

interface MessageQueue {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  db: PGlite;
  processQueue(): Promise<void>;
  clearQueueForHandler(id: number): void;
}

function keepSequencesWhole(server: PGLiteSocketServer): void {
  const q = (server as unknown as { queryQueue: MessageQueue }).queryQueue;
  let open: number | null = null;
  q.processQueue = async function (this: MessageQueue) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const owner = open ?? (this.db.isInTransaction() ? this.lastHandlerId : null);
        const at = owner === null ? 0 : this.queue.findIndex((m) => m.handlerId === owner);
        // The owner's next message has not arrived yet: the others wait for it.
        if (at < 0) break;
        const item = this.queue.splice(at, 1)[0]!;
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          open = null;
          item.reject(err);
          continue;
        }
        const type = item.message[0] ?? 0;
        if (type === SYNC) open = null;
        else if (EXTENDED.has(type)) open = item.handlerId;
        this.lastHandlerId = item.handlerId;
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
  // A client that goes away mid-sequence must not hold the session.
  const clear = q.clearQueueForHandler.bind(q);
  q.clearQueueForHandler = (id: number) => {
    clear(id);
    if (open === id) {
      open = null;
      void q.processQueue();
    }
  };
}
