import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDatabaseReachable } from "../src/index";
import { deployMigrations, migrationStatus, readMigrations } from "../src/migrations";
import { diffMigrationsAgainstSchema } from "../src/schema-diff";
import { createTestDatabase, type TestDatabase, testServerUrl } from "../src/testing";

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    return r.rows.map((x) => x.table_name);
  } finally {
    await c.end();
  }
}

describe("migrate deploy", () => {
  let db: TestDatabase;
  let scratch: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    scratch = mkdtempSync(path.join(tmpdir(), "meridian-migrations-"));
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("creates every table of schema.prisma on an empty database and records each migration", async () => {
    expect(await tables(db.url)).toEqual([]);
    const result = await deployMigrations(db.url);
    const files = readMigrations();
    expect(files.length).toBeGreaterThan(0);
    expect(result.applied).toEqual(files.map((f) => f.name));
    const created = await tables(db.url);
    expect(created).toContain("_prisma_migrations");
    expect(created).toContain("User");
    const status = await migrationStatus(db.url);
    expect(status.pending).toEqual([]);
    expect(status.applied).toEqual(files.map((f) => f.name));
  });

  it("is idempotent: a second deploy applies nothing", async () => {
    const again = await deployMigrations(db.url);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(readMigrations().length);
  });

  it("rolls a failing migration back whole and names it", async () => {
    const dir = path.join(scratch, "failing");
    mkdirSync(path.join(dir, "20990101000000_good"), { recursive: true });
    writeFileSync(path.join(dir, "20990101000000_good", "migration.sql"), 'CREATE TABLE "Good" (id int);\n');
    mkdirSync(path.join(dir, "20990102000000_bad"), { recursive: true });
    writeFileSync(
      path.join(dir, "20990102000000_bad", "migration.sql"),
      'CREATE TABLE "HalfDone" (id int);\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT * FROM "NoSuchTable";\n',
    );
    const fresh = await createTestDatabase({ migrate: false });
    try {
      await expect(deployMigrations(fresh.url, { dir })).rejects.toThrow(
        /migration 20990102000000_bad failed at line 3: relation "NoSuchTable" does not exist; the database was left as it was/,
      );
      const t = await tables(fresh.url);
      expect(t).toContain("Good");
      expect(t).not.toContain("HalfDone");
      const s = await migrationStatus(fresh.url, dir);
      expect(s.applied).toEqual(["20990101000000_good"]);
      expect(s.pending).toEqual(["20990102000000_bad"]);
    } finally {
      await fresh.drop();
    }
  });

  it("refuses to go on when a landed migration was edited", async () => {
    const dir = path.join(scratch, "edited");
    cpSync(path.join(import.meta.dirname, "..", "migrations"), dir, { recursive: true });
    const fresh = await createTestDatabase({ migrate: false });
    try {
      await deployMigrations(fresh.url, { dir });
      const first = readMigrations(dir)[0]!;
      writeFileSync(path.join(dir, first.name, "migration.sql"), `${first.sql}\n-- edited\n`);
      await expect(deployMigrations(fresh.url, { dir })).rejects.toThrow(
        new RegExp(`migration ${first.name} was changed after it was applied`),
      );
      expect((await migrationStatus(fresh.url, dir)).edited).toEqual([first.name]);
    } finally {
      await fresh.drop();
    }
  });
});

describe("schema.prisma and the migrations", () => {
  it("agree: replaying the migrations gives exactly the schema (checked by Prisma's schema engine)", async () => {
    const sql = await diffMigrationsAgainstSchema(testServerUrl());
    expect(sql).toBe("");
  });

  it("a schema change without a migration is caught", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "meridian-schema-"));
    try {
      const schema = path.join(dir, "schema.prisma");
      const { readFileSync } = await import("node:fs");
      const text = readFileSync(path.join(import.meta.dirname, "..", "schema.prisma"), "utf8");
      writeFileSync(schema, `${text}\nmodel UnmigratedThing {\n  id Int @id\n}\n`);
      const sql = await diffMigrationsAgainstSchema(testServerUrl(), { schemaFile: schema });
      expect(sql).toMatch(/CREATE TABLE "UnmigratedThing"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("an unreachable DATABASE_URL", () => {
  it("fails fast with the host and the reason", async () => {
    const t0 = Date.now();
    await expect(assertDatabaseReachable("postgresql://u:p@127.0.0.1:1/meridian")).rejects.toThrow(
      "cannot reach the database at 127.0.0.1:1/meridian: connection refused (is PostgreSQL running and listening there?)",
    );
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
