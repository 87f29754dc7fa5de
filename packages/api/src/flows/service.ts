// Flow records the agents report (FlowSummary, one row per window, connection key and deciding
// rule): the query the console and the export make, the retention that bounds the table, and the
// Hubble-like JSON shape users' tooling reads. Prisma only; no tRPC here.
import type { Db as Database } from "@meridian/db";

export interface FlowQuery {
  from: Date;
  to: Date;
  node?: string;
  verdict?: "forwarded" | "dropped" | "redirected";
  reason?: string;
  /** A rule id, or `default-deny`. */
  ruleId?: string;
  /** A policy (`ns/name`): the deciding rule's, or one that enforces a default deny. */
  policy?: string;
  /** The local endpoint, `ns/pod`. */
  endpoint?: string;
  /** Source or destination address. */
  ip?: string;
  limit: number;
}

export interface FlowRecord {
  id: string;
  node: string;
  at: Date;
  source: string;
  destination: string;
  protocol: string;
  port?: number;
  verdict: "forwarded" | "dropped" | "redirected";
  reason?: string;
  direction?: "ingress" | "egress";
  endpoint?: string;
  ruleId?: string;
  policies: string[];
  packets: number;
  bytes: number;
  suppressed: number;
}

type Db = Pick<Database, "flowSummary">;

const field = (name: string, equals: string) => ({ data: { path: [name], equals } });

/** Newest first, at most `limit`. */
export async function queryFlows(db: Db, q: FlowQuery): Promise<FlowRecord[]> {
  const and = [
    ...(q.verdict ? [field("verdict", q.verdict)] : []),
    ...(q.reason ? [field("reason", q.reason)] : []),
    ...(q.ruleId ? [field("ruleId", q.ruleId)] : []),
    ...(q.endpoint ? [field("endpoint", q.endpoint)] : []),
    ...(q.policy ? [{ data: { path: ["policies"], array_contains: [q.policy] } }] : []),
    ...(q.ip ? [{ OR: [field("source", q.ip), field("destination", q.ip)] }] : []),
  ];
  const rows = await db.flowSummary.findMany({
    where: {
      at: { gte: q.from, lte: q.to },
      ...(q.node ? { node: { name: q.node } } : {}),
      ...(and.length ? { AND: and } : {}),
    },
    orderBy: [{ at: "desc" }, { id: "desc" }],
    take: q.limit,
    include: { node: { select: { name: true } } },
  });
  return rows.map((r) => {
    const d = r.data as Record<string, unknown>;
    const str = (k: string) => (typeof d[k] === "string" ? (d[k] as string) : undefined);
    const num = (k: string) => (typeof d[k] === "number" ? (d[k] as number) : undefined);
    const direction = str("direction");
    return {
      id: r.id.toString(),
      node: r.node.name,
      at: r.at,
      source: str("source") ?? "",
      destination: str("destination") ?? "",
      protocol: str("protocol") ?? "",
      ...(num("port") !== undefined ? { port: num("port") } : {}),
      verdict: (str("verdict") ?? "forwarded") as FlowRecord["verdict"],
      ...(str("reason") ? { reason: str("reason") } : {}),
      ...(direction === "ingress" || direction === "egress" ? { direction } : {}),
      ...(str("endpoint") ? { endpoint: str("endpoint") } : {}),
      ...(str("ruleId") ? { ruleId: str("ruleId") } : {}),
      policies: Array.isArray(d.policies) ? d.policies.filter((p): p is string => typeof p === "string") : [],
      packets: num("packets") ?? 0,
      bytes: num("bytes") ?? 0,
      suppressed: num("suppressed") ?? 0,
    };
  });
}

/** Bounded history: rows older than `retentionMs` go. Returns how many were removed. */
export async function pruneFlows(db: Db, retentionMs: number, now = new Date()): Promise<number> {
  const r = await db.flowSummary.deleteMany({ where: { at: { lt: new Date(now.getTime() - retentionMs) } } });
  return r.count;
}

const HOUR = 3_600_000;
/** MERIDIAN_FLOW_RETENTION_HOURS, 1 h to 90 days; 24 h when unset or not a number. */
export function flowRetentionMs(env: Record<string, string | undefined> = process.env): number {
  const h = Number(env.MERIDIAN_FLOW_RETENTION_HOURS);
  if (!Number.isFinite(h) || h <= 0) return 24 * HOUR;
  return Math.min(Math.max(h, 1), 24 * 90) * HOUR;
}

const nsName = (ref: string) => {
  const i = ref.indexOf("/");
  return i < 0 ? { name: ref } : { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
};

/**
 * One record in Hubble's JSON field names (flow.Flow as `hubble observe -o json` prints it), so
 * tools that read Hubble's export read ours: verdict, drop_reason_desc, IP, l4, traffic_direction,
 * node_name, and the policies as {ingress,egress}_{allowed,denied}_by.
 */
export function toHubbleJson(r: FlowRecord): Record<string, unknown> {
  const dir =
    r.direction === "egress" ? "EGRESS" : r.direction === "ingress" ? "INGRESS" : "TRAFFIC_DIRECTION_UNKNOWN";
  const proto = r.protocol.toUpperCase();
  const l4 =
    proto === "TCP" || proto === "UDP" || proto === "SCTP"
      ? { [proto]: { destination_port: r.port ?? 0 } }
      : proto.startsWith("ICMP")
        ? { [proto === "ICMPV6" ? "ICMPv6" : "ICMPv4"]: { type: r.port ?? 0 } }
        : {};
  const policies = r.policies.map(nsName);
  const by = r.direction === "egress" ? "egress" : "ingress";
  const verdict =
    r.verdict === "dropped" ? "DROPPED" : r.verdict === "redirected" ? "REDIRECTED" : "FORWARDED";
  return {
    flow: {
      time: r.at.toISOString(),
      verdict,
      ...(r.verdict === "dropped" && r.reason ? { drop_reason_desc: r.reason.toUpperCase() } : {}),
      IP: {
        source: r.source,
        destination: r.destination,
        ipVersion: r.source.includes(":") ? "IPv6" : "IPv4",
      },
      l4,
      ...(r.endpoint ? { [r.direction === "egress" ? "source" : "destination"]: nsNamePod(r.endpoint) } : {}),
      traffic_direction: dir,
      node_name: r.node,
      ...(policies.length
        ? { [`${by}_${r.verdict === "dropped" ? "denied" : "allowed"}_by`]: policies }
        : {}),
      ...(r.ruleId ? { meridian_rule: r.ruleId } : {}),
      is_reply: false,
      Summary: `${r.source} -> ${r.destination} ${proto}${r.port ? `:${r.port}` : ""} ${verdict}${r.ruleId ? ` (${r.ruleId})` : ""}`,
    },
    node_name: r.node,
    time: r.at.toISOString(),
    meridian: { packets: r.packets, bytes: r.bytes, suppressed: r.suppressed },
  };
}

function nsNamePod(ref: string) {
  const { namespace, name } = nsName(ref);
  return { namespace: namespace ?? "default", pod_name: name };
}
