// One Prisma client per server process, on DATABASE_URL or the embedded database.
//
// Built here from the generated client and the pg adapter rather than through @meridian/db's
// entry point: that entry also re-exports the migration runner, which locates its SQL files with
// `import.meta.dirname` — undefined inside a Next.js server bundle, so importing it breaks
// `next build`. The console never migrates; it only needs the client.
import type { Db } from "@meridian/db";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../../../prisma/generated/client/client";
import { databaseUrlFromEnv } from "../../../../prisma/src/url";

const globalForDb = globalThis as unknown as { meridianDb?: Db };

export function getDb(): Db {
  globalForDb.meridianDb ??= new PrismaClient({
    adapter: new PrismaPg({
      connectionString: databaseUrlFromEnv(),
      max: 10,
      connectionTimeoutMillis: 10_000,
    }),
  });
  return globalForDb.meridianDb;
}
