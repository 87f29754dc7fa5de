// Compares the migrations with schema.prisma using Prisma's WASM schema engine: the
// migrations are replayed on a throw-away shadow database that we create and drop ourselves
// (the engine's own shadow-database path cannot be used with the pg adapter, see README).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { openSchemaEngine } from "../engine/wasm-engine";
import { deployMigrations } from "./migrations";
import { withDatabase } from "./url";

export const schemaPath = path.join(import.meta.dirname, "..", "schema.prisma");

const noFilters = { externalTables: [], externalEnums: [] };

/** SQL that takes a database built by the migrations to what schema.prisma describes ("" when they agree). */
export async function diffMigrationsAgainstSchema(
  connectionString: string,
  opts: { migrationsDir?: string; schemaFile?: string } = {},
): Promise<string> {
  const schemaFile = opts.schemaFile ?? schemaPath;
  const content = readFileSync(schemaFile, "utf8");
  const shadow = `prisma_migrate_shadow_db_${randomUUID().replaceAll("-", "")}`;
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${shadow}"`);
    const shadowUrl = withDatabase(connectionString, shadow);
    await deployMigrations(shadowUrl, { dir: opts.migrationsDir });
    const file = { path: path.basename(schemaFile), content };
    const { engine } = await openSchemaEngine(shadowUrl, file);
    try {
      const result = await engine.diff({
        from: { tag: "schemaDatasource", files: [file], configDir: path.dirname(schemaFile) },
        to: { tag: "schemaDatamodel", files: [file] },
        script: true,
        exitCode: null,
        filters: noFilters,
      } as never);
      const script = (result as { stdout?: string }).stdout ?? "";
      return /^\s*(-- This is an empty migration\.)?\s*$/.test(script) ? "" : script;
    } finally {
      engine.free();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${shadow}" WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}
