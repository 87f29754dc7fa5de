// Health at a glance for the Overview, the NOC wall and the node page: the DNS proxy, the egress
// gateway policies and the SRv6 VPN sites, each added up from what the agents last reported and
// nothing else. A node that never reported a component is "not reported", one whose heartbeat is
// older than STALE_AFTER_MS is "stale": neither ever counts as healthy.
import type { Db } from "@meridian/db";
import { parseComponentDetail } from "@meridian/model";
import { egressLive } from "../egress/live";
import { srv6Overview } from "../srv6/overview";
import { isStale } from "../status/service";

/** The window the per-minute DNS rates are taken over. */
export const DNS_RATE_MINUTES = 5;

export type ReportState = "not reported" | "stale";

export interface DnsNodeHealth {
  node: string;
  /** up: the proxy reports ok; degraded/down: it reports degraded/error (message says why). */
  state: "up" | "degraded" | "down" | ReportState;
  message: string;
  updatedAt: Date | null;
  /** Over the last DNS_RATE_MINUTES, from the query events the node reported. */
  queriesPerMinute: number;
  refusalsPerMinute: number;
  timeoutsPerMinute: number;
  /** The proxy's own counters since it started (null when the report carries none). */
  totals: { queries: number; denied: number; datapathTimeouts: number; upstreamFailures: number } | null;
}

export interface DnsHealth {
  minutes: number;
  nodes: DnsNodeHealth[];
}

/**
 * How the agent's DNS proxy words a datapath-write timeout in its query event (features/dns/proxy.ts:
 * `datapath: ${Timeout message}`), matched as a LIKE prefix; other datapath errors are not timeouts.
 */
export const DATAPATH_TIMEOUT_REASON = "datapath: took longer than%";

const perMinute = (n: number, minutes: number) => Math.round((n / minutes) * 10) / 10;

/**
 * The DNS proxy per joined node (or the one named). Refusals are the queries the proxy denied;
 * timeouts the ones answered SERVFAIL because the learned addresses missed the datapath bound
 * (the reason the proxy gives them, see DATAPATH_TIMEOUT_REASON).
 */
export async function dnsHealth(db: Db, now = new Date(), node?: string): Promise<DnsHealth> {
  const from = new Date(now.getTime() - DNS_RATE_MINUTES * 60_000);
  const nodes = await db.node.findMany({
    where: { joinState: "joined", ...(node ? { name: node } : {}) },
    orderBy: { name: "asc" },
    include: { components: { where: { component: "dns" } } },
  });
  const counts = await db.$queryRaw<{ nodeId: string; verdict: string; timeout: boolean; n: bigint }[]>`
    SELECT "nodeId", coalesce(data->>'verdict', '') AS verdict,
           coalesce(data->>'reason', '') LIKE ${DATAPATH_TIMEOUT_REASON} AS timeout, count(*) AS n
    FROM "DnsEvent" WHERE "at" > ${from} AND "at" <= ${now}
    GROUP BY 1, 2, 3`;
  return {
    minutes: DNS_RATE_MINUTES,
    nodes: nodes.map((n) => {
      const c = n.components[0];
      const mine = counts.filter((r) => r.nodeId === n.id);
      const sum = (f: (r: (typeof mine)[number]) => boolean) =>
        mine.filter(f).reduce((s, r) => s + Number(r.n), 0);
      const stats = c ? parseComponentDetail("dns", c.detail)?.stats : undefined;
      return {
        node: n.name,
        state: !c
          ? "not reported"
          : isStale(n.lastHeartbeatAt, now.getTime())
            ? "stale"
            : c.state === "ok"
              ? "up"
              : c.state === "degraded"
                ? "degraded"
                : c.state === "error"
                  ? "down"
                  : "not reported",
        message: c?.message ?? "no DNS proxy status reported",
        updatedAt: c?.updatedAt ?? null,
        queriesPerMinute: perMinute(
          sum(() => true),
          DNS_RATE_MINUTES,
        ),
        refusalsPerMinute: perMinute(
          sum((r) => r.verdict === "denied"),
          DNS_RATE_MINUTES,
        ),
        timeoutsPerMinute: perMinute(
          sum((r) => r.verdict === "error" && r.timeout),
          DNS_RATE_MINUTES,
        ),
        totals: stats
          ? {
              queries: stats.queries,
              denied: stats.denied,
              datapathTimeouts: stats.datapathTimeouts,
              upstreamFailures: stats.upstreamFailures,
            }
          : null,
      };
    }),
  };
}

export type EgressTileState = "forwarding" | "degraded" | "dropping" | "disabled" | ReportState;

export interface EgressHealth {
  policies: { name: string; state: EgressTileState; activeGateway: string | null; egressIP: string | null }[];
}

/** Each egress policy's state as egress.live adds it up, with "stale" told apart from "not reported". */
export async function egressHealth(db: Db): Promise<EgressHealth> {
  const live = await egressLive(db);
  return {
    policies: live.policies.map((p) => {
      const allStale = p.state === "not reported" && p.nodes.length > 0 && p.nodes.every((r) => r.stale);
      const fresh = p.nodes.filter((r) => !r.stale);
      return {
        name: p.name,
        state: allStale ? "stale" : p.state,
        activeGateway: fresh.find((r) => r.activeGateway)?.activeGateway ?? null,
        egressIP: fresh.find((r) => r.egressIP)?.egressIP ?? null,
      };
    }),
  };
}

export type VpnSiteState = "reachable" | "no routes" | ReportState;

export interface Srv6Health {
  /** One row per VRF: its remote sites (prefixes) as the nodes' datapaths hold them. */
  vrfs: {
    name: string;
    state: VpnSiteState;
    /** Fresh nodes reporting the VRF, and those compiled to have it. */
    nodesReporting: number;
    nodesIntended: number;
    members: number;
    /** Distinct destination prefixes in the VRF's datapath on fresh nodes, by origin. */
    importedRoutes: number;
    staticRoutes: number;
    sites: string[];
  }[];
  /** Node-wide datapath counters summed over fresh nodes (the agent counts them per node, not per VRF). */
  encapsulated: number;
  decapsulated: number;
  drops: number;
  /** VPNv4/VPNv6 prefixes the fresh nodes' BGP sessions advertise: the exported routes. */
  exportedRoutes: number;
  nodesReporting: number;
}

const VPN_FAMILIES = ["vpnv4", "vpnv6"];

export async function srv6Health(db: Db, now = new Date()): Promise<Srv6Health> {
  const [o, bgp] = await Promise.all([
    srv6Overview(db, now),
    db.node.findMany({
      where: { joinState: "joined" },
      include: { components: { where: { component: "bgp" } } },
    }),
  ]);
  const fresh = new Set(o.nodes.filter((n) => n.reported && !n.stale).map((n) => n.name));
  let exportedRoutes = 0;
  for (const n of bgp) {
    if (!fresh.has(n.name) || !n.components[0]) continue;
    const detail = parseComponentDetail("bgp", n.components[0].detail);
    for (const peer of Object.values(detail?.peers ?? {})) {
      for (const f of VPN_FAMILIES) exportedRoutes += peer.prefixes[f]?.advertised ?? 0;
    }
  }
  const freshNodes = o.nodes.filter((n) => fresh.has(n.name));
  const sum = (xs: { packets: number }[]) => xs.reduce((s, x) => s + x.packets, 0);
  return {
    vrfs: o.vrfs.map((v) => {
      const reporting = v.nodes.filter((n) => n.reported);
      const freshReporting = reporting.filter((n) => fresh.has(n.node));
      const routes = v.policies.filter((p) => fresh.has(p.node));
      const distinct = (source: string) =>
        new Set(routes.filter((p) => p.source === source).map((p) => p.destination)).size;
      const state: VpnSiteState =
        freshReporting.length > 0
          ? routes.length > 0
            ? "reachable"
            : "no routes"
          : reporting.length > 0
            ? "stale"
            : "not reported";
      return {
        name: v.name,
        state,
        nodesReporting: freshReporting.length,
        nodesIntended: v.nodes.length,
        members: freshReporting.reduce((s, n) => s + (n.reported?.members ?? 0), 0),
        importedRoutes: distinct("bgp"),
        staticRoutes: distinct("static"),
        sites: [...new Set(routes.map((p) => p.destination))].sort(),
      };
    }),
    encapsulated: sum(freshNodes.flatMap((n) => n.forwarded.filter((f) => f.name === "encapsulated"))),
    decapsulated: sum(freshNodes.flatMap((n) => n.forwarded.filter((f) => f.name === "decapsulated"))),
    drops: sum(freshNodes.flatMap((n) => n.drops)),
    exportedRoutes,
    nodesReporting: freshNodes.length,
  };
}
