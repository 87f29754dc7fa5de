// Flow records the agents report (FlowSummary, one row per window, connection key and deciding
// rule): the query the console and the export make, the retention that bounds the table, and the
// Hubble-like JSON shape users' tooling reads. Prisma only; no tRPC here.
import { type Db as Database, Prisma } from "@meridian/db";
import { dropReasonWords, type FlowSummary, isPolicyReason } from "@meridian/model";

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
  /** The local endpoint's namespace. */
  namespace?: string;
  /** The local endpoint's pod name (in any namespace unless `namespace` says). */
  pod?: string;
  /** Source or destination address. */
  ip?: string;
  limit: number;
}

/** A stored flow summary (the agents' report shape) with its node and the pods at either end. */
export type FlowRecord = Omit<FlowSummary, "policies" | "suppressed"> & {
  id: string;
  node: string;
  /** The pods at either end (`ns/pod`): the local endpoint, and the other end by its address today. */
  sourcePod?: string;
  destinationPod?: string;
  policies: string[];
  suppressed: number;
};

type Db = Pick<Database, "flowSummary" | "endpoint">;

const field = (name: string, equals: string) => ({ data: { path: [name], equals } });

/** Newest first, at most `limit`. */
export async function queryFlows(db: Db, q: FlowQuery): Promise<FlowRecord[]> {
  // namespace and pod are DNS-1123 names (router.ts), so they hold no LIKE wildcards.
  const and = [
    ...(q.verdict ? [field("verdict", q.verdict)] : []),
    ...(q.reason ? [field("reason", q.reason)] : []),
    ...(q.ruleId ? [field("ruleId", q.ruleId)] : []),
    ...(q.endpoint ? [field("endpoint", q.endpoint)] : []),
    ...(q.namespace ? [{ data: { path: ["endpoint"], string_starts_with: `${q.namespace}/` } }] : []),
    ...(q.pod ? [{ data: { path: ["endpoint"], string_ends_with: `/${q.pod}` } }] : []),
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
  const records = rows.map(toRecord);
  return withPods(db, records);
}

type FlowRow = { id: bigint; at: Date; data: unknown; node: { name: string } };

function toRecord(r: FlowRow): FlowRecord {
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
}

/**
 * Names the pod at each end: the local endpoint on its side (egress: the source), the other end
 * by the address as the endpoint inventory holds it now (one query for the page).
 */
async function withPods(db: Db, records: FlowRecord[]): Promise<FlowRecord[]> {
  const addresses = [...new Set(records.flatMap((r) => [r.source, r.destination]).filter(Boolean))];
  if (addresses.length === 0) return records;
  const eps = await db.endpoint.findMany({
    where: { OR: [{ ipv4: { in: addresses } }, { ipv6: { in: addresses } }] },
    select: { namespace: true, name: true, ipv4: true, ipv6: true },
  });
  const byAddress = new Map<string, string>();
  for (const e of eps) {
    if (e.ipv4) byAddress.set(e.ipv4, `${e.namespace}/${e.name}`);
    if (e.ipv6) byAddress.set(e.ipv6, `${e.namespace}/${e.name}`);
  }
  return records.map((r) => {
    const sourcePod = r.endpoint && r.direction === "egress" ? r.endpoint : byAddress.get(r.source);
    const destinationPod =
      r.endpoint && r.direction === "ingress" ? r.endpoint : byAddress.get(r.destination);
    return { ...r, ...(sourcePod ? { sourcePod } : {}), ...(destinationPod ? { destinationPod } : {}) };
  });
}

export interface DropSummary {
  from: Date;
  to: Date;
  /** The newest flow record any agent reported, of any verdict; null when none ever did. */
  lastReportAt: Date | null;
  /** Dropped packets: the events reported plus the ones the rate limit held back. */
  total: number;
  byReason: { reason: string; words: string; packets: number }[];
  /** The deciding rules that dropped most (a default deny by the policies that enforce it). */
  topRules: { ruleId: string; policies: string[]; packets: number }[];
}

const TOP_RULES = 5;

/** Whose drops: one node's (by name), one endpoint's (`ns/pod`), or the cluster's when neither. */
export interface DropScope {
  node?: string;
  endpoint?: string;
}

const DROPPED_PACKETS = Prisma.sql`sum(coalesce((data->>'packets')::bigint, 0) + coalesce((data->>'suppressed')::bigint, 0))`;

function dropWindow(from: Date, to: Date, scope: DropScope) {
  return Prisma.sql`"at" >= ${from} AND "at" <= ${to} AND data->>'verdict' = 'dropped'${
    scope.node
      ? Prisma.sql` AND "nodeId" = (SELECT "id" FROM "Node" WHERE "name" = ${scope.node})`
      : Prisma.empty
  }${scope.endpoint ? Prisma.sql` AND data->>'endpoint' = ${scope.endpoint}` : Prisma.empty}`;
}

/** Drops over [from, to] by reason and by deciding rule, most first. */
export async function dropSummary(
  db: Db & Pick<Database, "$queryRaw">,
  from: Date,
  to: Date,
  scope: DropScope = {},
): Promise<DropSummary> {
  const packets = DROPPED_PACKETS;
  const window = dropWindow(from, to, scope);
  const [reasons, rules, last] = await Promise.all([
    db.$queryRaw<{ reason: string; packets: bigint }[]>`
      SELECT coalesce(data->>'reason', '') AS reason, ${packets} AS packets
      FROM "FlowSummary" WHERE ${window} GROUP BY 1 ORDER BY 2 DESC, 1`,
    db.$queryRaw<{ ruleId: string; policies: unknown; packets: bigint }[]>`
      SELECT coalesce(data->>'ruleId', '') AS "ruleId", coalesce(data->'policies', '[]'::jsonb) AS policies,
             ${packets} AS packets
      FROM "FlowSummary" WHERE ${window} AND data->>'ruleId' IS NOT NULL
      GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT ${TOP_RULES}`,
    db.flowSummary.findFirst({
      where: {
        ...(scope.node ? { node: { name: scope.node } } : {}),
        ...(scope.endpoint ? { data: { path: ["endpoint"], equals: scope.endpoint } } : {}),
      },
      orderBy: { at: "desc" },
      select: { at: true },
    }),
  ]);
  const byReason = reasons.map((r) => ({
    reason: r.reason || "unknown",
    words: dropReasonWords(r.reason || undefined),
    packets: Number(r.packets),
  }));
  return {
    from,
    to,
    lastReportAt: last?.at ?? null,
    total: byReason.reduce((n, r) => n + r.packets, 0),
    byReason,
    topRules: rules.map((r) => ({
      ruleId: r.ruleId,
      policies: Array.isArray(r.policies) ? r.policies.filter((p): p is string => typeof p === "string") : [],
      packets: Number(r.packets),
    })),
  };
}

/** Dropped packets over [from, to] per local endpoint (`ns/pod`), for the endpoints asked; 0 for none. */
export async function dropsByEndpoint(
  db: Pick<Database, "$queryRaw">,
  endpoints: string[],
  from: Date,
  to: Date,
): Promise<Map<string, number>> {
  const counts = new Map(endpoints.map((e) => [e, 0]));
  if (endpoints.length === 0) return counts;
  const rows = await db.$queryRaw<{ endpoint: string; packets: bigint }[]>`
    SELECT data->>'endpoint' AS endpoint, ${DROPPED_PACKETS} AS packets
    FROM "FlowSummary" WHERE ${dropWindow(from, to, {})} AND data->>'endpoint' IN (${Prisma.join(endpoints)})
    GROUP BY 1`;
  for (const r of rows) counts.set(r.endpoint, Number(r.packets));
  return counts;
}

export interface PolicyLink {
  /** `ns/name`, or `name` for a cluster-wide policy, as the flow names it. */
  ref: string;
  /** The policy's id for its page; null when no policy of that name exists any more. */
  id: string | null;
  enabled: boolean;
}

export interface FlowExplanation {
  flow: FlowRecord;
  /** What decided, in one or two sentences. */
  summary: string;
  reasonWords: string;
  /** Whether a policy decided (then `policies` say which), as against a malformed packet. */
  byPolicy: boolean;
  /** The deciding policy (a deny rule's), or those whose selection put the pod under default deny. */
  policies: PolicyLink[];
  /** The deny rule that matched, as its policy spells it today; absent for a default deny. */
  rule?: { ruleId: string; kind: string; index: number; spec: unknown };
}

/** A rule as its policy's spec holds it today; undefined when the policy or the rule is gone. */
function ruleOf(spec: unknown, kind: string, index: number): unknown {
  const list = (spec as Record<string, unknown> | undefined)?.[kind];
  return Array.isArray(list) ? list[index] : undefined;
}

/** A rule id's parts: `ns/name/ingressDeny[0]` → policy `ns/name`, kind, index (compiler/policy.ts ruleId). */
function splitRuleId(ruleId: string): { policy: string; kind: string; index: number } | null {
  const m = /^(.+)\/(ingress|ingressDeny|egress|egressDeny)\[(\d+)\]$/.exec(ruleId);
  return m ? { policy: m[1]!, kind: m[2]!, index: Number(m[3]) } : null;
}

const nsName = (ref: string) => {
  const i = ref.indexOf("/");
  return i < 0 ? { name: ref } : { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
};

/** Why a flow was dropped (or allowed): the reason in words and the policies to edit. */
export async function explainFlow(
  db: Db & Pick<Database, "networkPolicy">,
  id: bigint,
): Promise<FlowExplanation | null> {
  const row = await db.flowSummary.findUnique({
    where: { id },
    include: { node: { select: { name: true } } },
  });
  if (!row) return null;
  const [flow] = await withPods(db, [toRecord(row)]);
  const f = flow!;
  const rule = f.ruleId ? splitRuleId(f.ruleId) : null;
  const refs = rule ? [rule.policy] : f.ruleId === "default-deny" ? f.policies : [];
  const found = refs.length
    ? await db.networkPolicy.findMany({
        where: { OR: refs.map((r) => ({ namespace: nsName(r).namespace ?? "", name: nsName(r).name })) },
        select: { id: true, namespace: true, name: true, enabled: true, spec: true },
      })
    : [];
  const byRef = new Map(found.map((p) => [p.namespace ? `${p.namespace}/${p.name}` : p.name, p]));
  const policies = refs.map((ref) => {
    const p = byRef.get(ref);
    return { ref, id: p?.id ?? null, enabled: p?.enabled ?? false };
  });
  const ruleSpec = rule ? ruleOf(byRef.get(rule.policy)?.spec, rule.kind, rule.index) : undefined;
  const dir = f.direction ?? "this direction";
  const pod = f.endpoint ?? "the pod";
  const peer = f.direction === "ingress" ? (f.sourcePod ?? f.source) : (f.destinationPod ?? f.destination);
  const what = `${f.protocol.toUpperCase()}${f.port !== undefined ? ` port ${f.port}` : ""}`;
  const list = refs.join(", ");
  const summary =
    f.verdict !== "dropped"
      ? f.ruleId
        ? `Allowed by rule ${f.ruleId}.`
        : "Allowed: no policy enforces this direction for the pod."
      : f.reason === "policy_default"
        ? refs.length
          ? `${pod} is under default deny for ${dir} because ${refs.length === 1 ? "policy" : "policies"} ${list} ${refs.length === 1 ? "selects" : "select"} it, and no ${dir} rule of the policies that select it allows ${peer} on ${what}.`
          : `${pod} is under default deny for ${dir}, and no rule allows ${peer} on ${what}; the agent did not name the enforcing policies.`
        : f.reason === "policy_deny"
          ? `Deny rule ${f.ruleId ?? "(not named)"}${rule ? ` of policy ${rule.policy}` : ""} matches ${peer} on ${what}; a deny rule wins over every allow rule.`
          : `The datapath dropped the packet before any policy: ${dropReasonWords(f.reason)}.`;
  return {
    flow: f,
    summary,
    reasonWords: dropReasonWords(f.reason),
    byPolicy: isPolicyReason(f.reason),
    policies,
    ...(rule && ruleSpec
      ? { rule: { ruleId: f.ruleId!, kind: rule.kind, index: rule.index, spec: ruleSpec } }
      : {}),
  };
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
