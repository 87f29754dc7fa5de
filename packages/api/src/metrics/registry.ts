// The control plane's Prometheus metrics (prom-client): API requests by procedure, their latency,
// the agents holding a desired-state stream open to this process, how far the nodes' applied
// revisions lag the latest one, and the database pool. One registry per process, kept on
// globalThis because Next.js may load this module once per route bundle.
import { type Db, databasePools } from "@meridian/db";
import client from "prom-client";
import { STALE_AFTER_MS } from "../status/service";

export interface ApiMetrics {
  registry: client.Registry;
  requests: client.Counter<"procedure" | "type" | "code">;
  duration: client.Histogram<"procedure" | "type">;
  connectedAgents: client.Gauge;
  latestRevision: client.Gauge;
  nodesBehind: client.Gauge;
  propagationLag: client.Gauge;
  pool: client.Gauge<"state">;
  poolMax: client.Gauge;
}

function create(): ApiMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new client.Counter({
      name: "meridian_api_requests_total",
      help: "API calls (tRPC and REST) by procedure, type and result code",
      labelNames: ["procedure", "type", "code"],
      registers,
    }),
    duration: new client.Histogram({
      name: "meridian_api_request_duration_seconds",
      help: "Time to answer an API call by procedure and type (a subscription: until its stream opens)",
      labelNames: ["procedure", "type"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    connectedAgents: new client.Gauge({
      name: "meridian_api_connected_agents",
      help: "Agents with a desired-state stream open to this API process",
      registers,
    }),
    latestRevision: new client.Gauge({
      name: "meridian_api_latest_revision",
      help: "The newest revision of the desired state",
      registers,
    }),
    nodesBehind: new client.Gauge({
      name: "meridian_api_nodes_behind",
      help: "Joined nodes reporting (heartbeat within 90 s) whose applied revision is older than the latest",
      registers,
    }),
    propagationLag: new client.Gauge({
      name: "meridian_api_propagation_lag_seconds",
      help: "Age of the oldest revision a reporting node has not applied yet; 0 when every node is in sync",
      registers,
    }),
    pool: new client.Gauge({
      name: "meridian_api_db_pool_connections",
      help: "Database pool connections of this process by state (total, idle, waiting clients)",
      labelNames: ["state"],
      registers,
    }),
    poolMax: new client.Gauge({
      name: "meridian_api_db_pool_max_connections",
      help: "The most connections the database pools of this process may open",
      registers,
    }),
  };
}

const global = globalThis as { meridianApiMetrics?: ApiMetrics };
export function apiMetrics(): ApiMetrics {
  global.meridianApiMetrics ??= create();
  return global.meridianApiMetrics;
}

/** Reads what lives in the database (revisions, nodes' applied revisions) and the pools' use. */
async function refresh(m: ApiMetrics, db: Db, now = Date.now()) {
  const [latest, nodes] = await Promise.all([
    db.revision.findFirst({ orderBy: { number: "desc" }, select: { number: true } }),
    db.node.findMany({
      where: { joinState: "joined", lastHeartbeatAt: { gte: new Date(now - STALE_AFTER_MS) } },
      select: { appliedRevision: true },
    }),
  ]);
  const newest = latest?.number ?? 0;
  m.latestRevision.set(newest);
  const behind = nodes.filter((n) => (n.appliedRevision ?? 0) < newest);
  m.nodesBehind.set(behind.length);
  if (behind.length === 0) m.propagationLag.set(0);
  else {
    const oldestApplied = Math.min(...behind.map((n) => n.appliedRevision ?? 0));
    const firstUnapplied = await db.revision.findFirst({
      where: { number: { gt: oldestApplied } },
      orderBy: { number: "asc" },
      select: { createdAt: true },
    });
    m.propagationLag.set(firstUnapplied ? Math.max(0, (now - firstUnapplied.createdAt.getTime()) / 1000) : 0);
  }
  const pools = databasePools();
  m.pool.set(
    { state: "total" },
    pools.reduce((n, p) => n + p.total, 0),
  );
  m.pool.set(
    { state: "idle" },
    pools.reduce((n, p) => n + p.idle, 0),
  );
  m.pool.set(
    { state: "waiting" },
    pools.reduce((n, p) => n + p.waiting, 0),
  );
  m.poolMax.set(pools.reduce((n, p) => n + p.max, 0));
}

/** The text a Prometheus scrape reads. */
export async function renderMetrics(db: Db): Promise<{ contentType: string; body: string }> {
  const m = apiMetrics();
  await refresh(m, db);
  return { contentType: m.registry.contentType, body: await m.registry.metrics() };
}
