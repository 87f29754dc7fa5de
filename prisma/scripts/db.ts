// meridian db <deploy|status|dev --name NAME|check>
//   deploy  apply pending migrations (each in a transaction) to DATABASE_URL
//   status  list applied and pending migrations
//   dev     write a new migration with the SQL that takes the migrations to schema.prisma
//   check   fail if schema.prisma and the migrations disagree
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { deployMigrations, MigrationError, migrationStatus, migrationsDir } from "../src/migrations";
import { diffMigrationsAgainstSchema } from "../src/schema-diff";
import { databaseUrlFromEnv } from "../src/url";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" } },
});
const command = positionals[0] ?? "status";
const url = databaseUrlFromEnv();

async function main(): Promise<number> {
  switch (command) {
    case "deploy": {
      const r = await deployMigrations(url, { log: (l) => console.log(`db: ${l}`) });
      console.log(`db: ${r.applied.length} migration(s) applied, ${r.alreadyApplied} already in place`);
      return 0;
    }
    case "status": {
      const s = await migrationStatus(url);
      for (const n of s.applied) console.log(`applied  ${n}`);
      for (const n of s.pending) console.log(`pending  ${n}`);
      for (const n of s.unknown) console.log(`unknown  ${n} (in the database, not in prisma/migrations)`);
      for (const n of s.edited) console.log(`edited   ${n} (changed after it was applied)`);
      return s.pending.length || s.unknown.length || s.edited.length ? 1 : 0;
    }
    case "dev":
    case "check": {
      const sql = await diffMigrationsAgainstSchema(url);
      if (!sql) {
        console.log("db: schema.prisma and the migrations agree");
        return 0;
      }
      if (command === "check") {
        console.error(`db: schema.prisma has changes that no migration makes:\n${sql}`);
        return 1;
      }
      const name = (values.name ?? "change").replace(/[^a-z0-9_]+/gi, "_").toLowerCase();
      const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
      const dir = path.join(migrationsDir, `${stamp}_${name}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "migration.sql"), sql);
      console.log(`db: wrote ${path.relative(process.cwd(), dir)}/migration.sql`);
      return 0;
    }
    default:
      console.error(`db: unknown command ${command} (deploy, status, dev --name NAME, check)`);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    // The WASM engine can fail outside its promise; either way: one clear line, non-zero exit.
    console.error(`db: ${err instanceof MigrationError ? err.message : (err?.message ?? err)}`);
    process.exit(1);
  },
);
