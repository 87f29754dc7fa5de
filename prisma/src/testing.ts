// Throw-away databases for tests: each test file gets its own database, cloned from the
// migrated template that scripts/test.mjs prepares (or migrated here when run on its own).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPrismaClient } from "./index";
import { deployMigrations } from "./migrations";
import { withDatabase } from "./url";

export interface TestDatabase {
  url: string;
  name: string;
  prisma: ReturnType<typeof createPrismaClient>;
  drop(): Promise<void>;
}

export function testServerUrl(): string {
  const url = process.env.MERIDIAN_TEST_SERVER_URL ?? process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "tests need PostgreSQL: run them with `npm test` (which starts one), or set DATABASE_URL to a server where this user may CREATE DATABASE",
    );
  }
  return url;
}

export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const server = testServerUrl();
  // Inside an `npm test` run the name starts with the run's id, so the run drops exactly its own
  // databases at the end (another run on the same server keeps its own).
  const run = process.env.MERIDIAN_TEST_RUN;
  const name = `${run ? `${run}_` : ""}meridian_t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const template = process.env.MERIDIAN_TEST_TEMPLATE;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    if (template && opts.migrate !== false) {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
    } else {
      await admin.query(`CREATE DATABASE "${name}"`);
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(server, name);
  if (!template && opts.migrate !== false) await deployMigrations(url);
  const prisma = createPrismaClient(url, { max: 5 });
  return {
    url,
    name,
    prisma,
    async drop() {
      await prisma.$disconnect().catch(() => {});
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
