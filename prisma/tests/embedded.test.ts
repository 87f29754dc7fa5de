import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
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

  it("is opened by one process at a time: a second open names the process that has it", async () => {
    expect(runningEmbeddedDatabase(dir)).toEqual({ pid: process.pid, url: db.url });
    await expect(startEmbeddedDatabase({ dataDir: dir, port: 1 })).rejects.toThrow(
      `the embedded database in ${dir} is already open in process ${process.pid} (serving ${db.url}); stop that process first`,
    );
  });
});
