// Exits 0 when DATABASE_URL answers; otherwise one line naming the host and the reason.
import { assertDatabaseReachable } from "../src/index";
import { databaseUrlFromEnv } from "../src/url";

try {
  await assertDatabaseReachable(databaseUrlFromEnv());
} catch (err) {
  console.error(`db: ${(err as Error).message}`);
  process.exit(1);
}
