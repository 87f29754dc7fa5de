// @meridian/db: the Prisma client on the pg driver adapter, shared by the API and the seed.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/client/client";
import { describeConnectionError } from "./connection";

export * from "../generated/client/client";
export { describeConnectionError } from "./connection";
export { databaseUrlFromEnv, embeddedDatabaseUrl } from "./url";

export type Db = PrismaClient;

export function createPrismaClient(connectionString: string, opts: { max?: number } = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString, max: opts.max ?? 10, connectionTimeoutMillis: 10_000 });
  return new PrismaClient({ adapter });
}

/** Fails fast, naming the host and the reason, when the database cannot be reached. */
export async function assertDatabaseReachable(connectionString: string): Promise<void> {
  const pg = await import("pg");
  const client = new pg.default.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (err) {
    throw new Error(describeConnectionError(connectionString, err));
  } finally {
    await client.end().catch(() => {});
  }
}
