import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedDatabase, runningEmbeddedDatabase, startEmbeddedDatabase } from "../src/embedded";
import { createPrismaClient } from "../src/index";
import { deployMigrations, migrationStatus, readMigrations } from "../src/migrations";

// `npm start` without DATABASE_URL runs on this embedded database: the same migrations and the
// same Prisma adapter must work on it as on PostgreSQL.
describe("the embedded database (PGlite over TCP)", () => {
  let dir: string;
  let db: EmbeddedDatabase;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "meridian-pglite-"));
    db = await startEmbeddedDatabase({ dataDir: dir, port: 20000 + Math.floor(Math.random() * 20000) });
  }, 90_000);
  afterAll(async () => {
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the same migrations and serves Prisma queries through the pg adapter", async () => {
    const r = await deployMigrations(db.url);
    expect(r.applied).toEqual(readMigrations().map((m) => m.name));
    expect((await migrationStatus(db.url)).pending).toEqual([]);
    const prisma = createPrismaClient(db.url, { max: 2 });
    try {
      const rows = await prisma.$queryRawUnsafe<{ n: number }[]>(
        "SELECT count(*)::int AS n FROM _prisma_migrations",
      );
      expect(rows[0]?.n).toBe(readMigrations().length);
    } finally {
      await prisma.$disconnect();
    }
  }, 60_000);

  it("keeps each client's queries apart when many clients query at once", async () => {
    // Every client sends parameterised queries (Parse, Bind, Execute, Sync) while the others do:
    // PGlite is one session, so messages of two clients must never interleave inside a sequence,
    // or a client gets another's statement ("unnamed prepared statement does not exist") or, worse,
    // another's answer.
    const clients = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        return c;
      }),
    );
    try {
      const wrong: string[] = [];
      await Promise.all(
        clients.map(async (c, ci) => {
          for (let i = 0; i < 60; i++) {
            // Some sequences long enough to reach the server in several pieces.
            const tag = `client-${ci}-${i}-${"x".repeat(i % 3 === 0 ? 200_000 : 10)}`;
            const r = await c.query<{ tag: string; n: number }>("SELECT $1::text AS tag, $2::int AS n", [
              tag,
              i,
            ]);
            if (r.rows[0]?.tag !== tag || r.rows[0]?.n !== i)
              wrong.push(`${tag} got ${JSON.stringify(r.rows[0])}`);
          }
        }),
      );
      expect(wrong).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  }, 60_000);

  it("a client's query sequence is never cut into by another's (Parse … Sync stays whole)", async () => {
    // Client A sends Parse and waits; B sends a whole query; then A sends Bind, Execute, Sync.
    // PGlite is one session: if B's Parse ran in between, A would run B's statement.
    const u = new URL(db.url);
    const raw = await rawConnection(u.hostname, Number(u.port));
    const b = new pg.Client({ connectionString: db.url });
    await b.connect();
    raw.conn.parse({ text: "SELECT 'from A'::text AS who" });
    raw.conn.flush();
    await raw.next("parseComplete");
    const fromB = b.query<{ who: string }>("SELECT $1::text AS who", ["from B"]);
    await new Promise((r) => setTimeout(r, 300));
    raw.conn.bind({});
    raw.conn.execute({});
    raw.conn.sync();
    const row = await raw.next("dataRow");
    expect(String(row.fields[0])).toBe("from A");
    expect((await fromB).rows[0]?.who).toBe("from B");
    raw.conn.end();
    await b.end();
  }, 60_000);

  it("is opened by one process at a time: a second open names the process that has it", async () => {
    expect(runningEmbeddedDatabase(dir)).toEqual({ pid: process.pid, url: db.url });
    await expect(startEmbeddedDatabase({ dataDir: dir, port: 1 })).rejects.toThrow(
      `the embedded database in ${dir} is already open in process ${process.pid} (serving ${db.url}); stop that process first`,
    );
  });
});

/** What of pg's Connection (its wire-protocol writer) the test uses; its types leave most out. */
interface WireConnection {
  connect(port: number, host: string): void;
  startup(params: Record<string, string>): void;
  password(password: string): void;
  parse(query: { text: string }): void;
  bind(config: Record<string, unknown>): void;
  execute(config: Record<string, unknown>): void;
  flush(): void;
  sync(): void;
  end(): void;
  on(event: string, listener: (msg: { fields: unknown[] }) => void): void;
  once(event: string, listener: () => void): void;
}

/** A bare protocol connection (pg's own message writer), to send a query sequence in pieces. */
async function rawConnection(host: string, port: number) {
  const conn = new (pg as unknown as { Connection: new () => WireConnection }).Connection();
  const events: { name: string; msg: { fields: unknown[] } }[] = [];
  for (const name of ["parseComplete", "bindComplete", "dataRow", "readyForQuery", "errorMessage"])
    conn.on(name, (msg: { fields: unknown[] }) => events.push({ name, msg }));
  const next = async (name: string) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const error = events.find((e) => e.name === "errorMessage");
      if (error) throw new Error(`the server answered with an error: ${JSON.stringify(error.msg)}`);
      const i = events.findIndex((e) => e.name === name);
      if (i >= 0) return events.splice(i, 1)[0]!.msg;
      if (Date.now() > deadline) throw new Error(`no ${name} within 10 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  conn.on("authenticationCleartextPassword", () => conn.password("postgres"));
  conn.connect(port, host);
  await new Promise<void>((resolve) => conn.once("connect", () => resolve()));
  conn.startup({ user: "postgres", database: "postgres" });
  await next("readyForQuery");
  return { conn, next };
}
