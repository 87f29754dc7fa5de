// The embedded database for `npm start` without DATABASE_URL: PGlite (PostgreSQL 17 as WASM)
// served over TCP, so the app and the migrations use the same pg adapter as with a real server.
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedDatabase(opts: {
  dataDir: string;
  port: number;
  host?: string;
}): Promise<EmbeddedDatabase> {
  mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: opts.dataDir });
  const host = opts.host ?? "127.0.0.1";
  // PGlite is single-connection; the server multiplexes the app's pool over it.
  const server = new PGLiteSocketServer({ db, host, port: opts.port, maxConnections: 20 });
  await server.start();
  return {
    url: `postgresql://postgres:postgres@${host}:${opts.port}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
