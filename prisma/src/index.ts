// @meridian/db: the Prisma client on the pg driver adapter, shared by the API and the seed.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/client/client";
import { describeConnectionError } from "./connection";

export * from "../generated/client/client";
export { describeConnectionError } from "./connection";
export { databaseUrlFromEnv, embeddedDatabaseUrl } from "./url";

export type Db = PrismaClient;

// The pools this process opened, so the control plane's /metrics can say how they are used.
const shared = globalThis as { meridianDbPools?: Set<pg.Pool> };
shared.meridianDbPools ??= new Set();
const pools = shared.meridianDbPools;

export function createPrismaClient(connectionString: string, opts: { max?: number } = {}): PrismaClient {
  const max = opts.max ?? 10;
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 10_000 });
  pools.add(pool);
  // Our own pool (not a config) so its counts can be read; the adapter ends it on disconnect.
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  return new PrismaClient({ adapter });
}

/** Each open pool's connections: total, idle, clients waiting for one, and its limit. */
export function databasePools(): { total: number; idle: number; waiting: number; max: number }[] {
  for (const p of pools) if (p.ending || p.ended) pools.delete(p);
  return [...pools].map((p) => ({
    total: p.totalCount,
    idle: p.idleCount,
    waiting: p.waitingCount,
    max: p.options.max ?? 10,
  }));
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
