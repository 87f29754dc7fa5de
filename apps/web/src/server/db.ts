// One Prisma client per server process, on DATABASE_URL or the embedded database.
// (@meridian/db's entry holds only the client; the migration runner, which reads its SQL files
// from disk, lives behind @meridian/db/migrations so that it never lands in the Next bundle.)
import { createPrismaClient, type Db, databaseUrlFromEnv } from "@meridian/db";

const globalForDb = globalThis as unknown as { meridianDb?: Db };

export function getDb(): Db {
  globalForDb.meridianDb ??= createPrismaClient(databaseUrlFromEnv());
  return globalForDb.meridianDb;
}
