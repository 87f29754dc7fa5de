// Applies prisma/migrations/*/migration.sql in order and records them in Prisma's own
// `_prisma_migrations` table, so `prisma migrate status` on a machine with the native engine
// reads the same history. Each migration runs in its own transaction: a failure rolls it back
// whole and names the migration. An advisory lock serialises concurrent deploys (API replicas).
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { describeConnectionError } from "./connection";

export const migrationsDir = path.join(import.meta.dirname, "..", "migrations");

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  name: string;
  checksum: string;
  finishedAt: Date | null;
  rolledBackAt: Date | null;
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migration?: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

const MIGRATION_LOCK = 72_707_369; // arbitrary, fixed: pg_advisory_lock key for deploys

const HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export function readMigrations(dir = migrationsDir): MigrationFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

async function connect(connectionString: string) {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new MigrationError(describeConnectionError(connectionString, err));
  }
  return client;
}

export async function appliedMigrations(client: pg.Client): Promise<AppliedMigration[]> {
  const exists = await client.query(`SELECT to_regclass('"_prisma_migrations"') AS t`);
  if (!exists.rows[0]?.t) return [];
  const res = await client.query(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );
  return res.rows.map((r) => ({
    name: r.migration_name,
    checksum: r.checksum,
    finishedAt: r.finished_at,
    rolledBackAt: r.rolled_back_at,
  }));
}

export interface DeployResult {
  applied: string[];
  alreadyApplied: number;
}

export async function deployMigrations(
  connectionString: string,
  opts: { dir?: string; log?: (line: string) => void } = {},
): Promise<DeployResult> {
  const files = readMigrations(opts.dir);
  const client = await connect(connectionString);
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(HISTORY_TABLE);
    const applied = (await appliedMigrations(client)).filter((m) => !m.rolledBackAt);
    const byName = new Map(applied.map((m) => [m.name, m]));
    for (const m of applied) {
      if (!m.finishedAt) {
        throw new MigrationError(
          `migration ${m.name} started but never finished; fix the database by hand, then mark it rolled back`,
          m.name,
        );
      }
    }
    const done: string[] = [];
    for (const file of files) {
      const prev = byName.get(file.name);
      if (prev) {
        if (prev.checksum !== file.checksum) {
          throw new MigrationError(
            `migration ${file.name} was changed after it was applied (checksum differs); landed migrations are never edited, add a new one`,
            file.name,
          );
        }
        continue;
      }
      opts.log?.(`applying ${file.name}`);
      try {
        await client.query("BEGIN");
        // One query: PostgreSQL runs a multi-statement script atomically and keeps $$ bodies intact.
        await client.query(file.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, now(), 1)`,
          [randomUUID(), file.checksum, file.name],
        );
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        const e = err as { message?: string; position?: string };
        const where = e.position ? ` at line ${lineOf(file.sql, Number(e.position))}` : "";
        throw new MigrationError(
          `migration ${file.name} failed${where}: ${e.message}; the database was left as it was`,
          file.name,
        );
      }
      done.push(file.name);
    }
    return { applied: done, alreadyApplied: files.length - done.length };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    await client.end();
  }
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  unknown: string[];
  edited: string[];
}

export async function migrationStatus(connectionString: string, dir?: string): Promise<MigrationStatus> {
  const files = readMigrations(dir);
  const client = await connect(connectionString);
  try {
    const applied = (await appliedMigrations(client)).filter((m) => m.finishedAt && !m.rolledBackAt);
    const names = new Set(applied.map((m) => m.name));
    const fileNames = new Set(files.map((f) => f.name));
    return {
      applied: applied.map((m) => m.name),
      pending: files.filter((f) => !names.has(f.name)).map((f) => f.name),
      unknown: applied.filter((m) => !fileNames.has(m.name)).map((m) => m.name),
      edited: files
        .filter((f) => applied.some((m) => m.name === f.name && m.checksum !== f.checksum))
        .map((f) => f.name),
    };
  } finally {
    await client.end();
  }
}

function lineOf(text: string, position: number): number {
  return text.slice(0, Math.max(0, position - 1)).split("\n").length;
}
