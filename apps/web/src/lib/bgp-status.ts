// BGP sessions as agents report them: the node's "bgp" component carries `detail.peers`, keyed by
// peer address, each a session in the schema the agent builds it to and the API checks it against
// (@meridian/model, bgp/session-schemas.ts). A peer whose report does not fit (an older agent's) is left
// out rather than guessed at.
import "./zod-csp";
import { type BgpSessionDetail, bgpSessionDetailSchema } from "@meridian/model";

export interface SessionReport {
  node: string;
  peer: string;
  state: string;
  uptimeSeconds: number | null;
  prefixesReceived: number | null;
  prefixesAdvertised: number | null;
  lastError: string | null;
  reportedAt: Date;
}

interface NodeLike {
  name: string;
  components: { component: string; detail: Record<string, unknown>; updatedAt: Date }[];
}

/** The sessions a node's `bgp` component reports, by peer address; those that fit the schema. */
function reportedSessions(
  node: NodeLike,
): { updatedAt: Date; peers: [string, BgpSessionDetail][] } | undefined {
  const bgp = node.components.find((c) => c.component === "bgp");
  const peers = bgp?.detail.peers;
  if (!bgp || typeof peers !== "object" || peers === null) return undefined;
  const fit: [string, BgpSessionDetail][] = [];
  for (const [address, raw] of Object.entries(peers)) {
    const parsed = bgpSessionDetailSchema.safeParse(raw);
    if (parsed.success) fit.push([address, parsed.data]);
  }
  return { updatedAt: bgp.updatedAt, peers: fit };
}

export function bgpSessions(nodes: NodeLike[]): SessionReport[] {
  const out: SessionReport[] = [];
  for (const node of nodes) {
    const reported = reportedSessions(node);
    if (!reported) continue;
    for (const [peer, r] of reported.peers) {
      const state = r.state.toLowerCase();
      // Agents report the uptime as of their report, and report again only when something
      // changes: an Established session has been up for as long again as the report is old.
      const age = Math.max(0, (Date.now() - reported.updatedAt.getTime()) / 1000);
      out.push({
        node: node.name,
        peer,
        state,
        uptimeSeconds: r.uptimeSeconds + (state === "established" ? age : 0),
        prefixesReceived: r.prefixesReceived,
        prefixesAdvertised: r.prefixesAdvertised,
        lastError: r.lastError || null,
        reportedAt: reported.updatedAt,
      });
    }
  }
  return out;
}

export function isUp(state: string): boolean {
  return state === "established";
}

export function duration(seconds: number | null): string {
  if (seconds === null) return "—";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** One family's counters as the agent reports them (`detail.peers[…].prefixes`). */
export interface FamilyCounts {
  family: string;
  received: number | null;
  accepted: number | null;
  advertised: number | null;
}

/**
 * Everything an agent reports about one session beyond the summary: flaps, per-family counters,
 * the negotiated capabilities and timers beside the configured ones, kernel routes and problems.
 * `negotiated` is null until a session has completed an OPEN exchange.
 */
export interface SessionDetail {
  flaps: number | null;
  lastError: { words: string; at: string | null } | null;
  families: FamilyCounts[];
  negotiated: {
    families: string[];
    holdTimeSeconds: number | null;
    keepaliveSeconds: number | null;
    fourOctetAsn: boolean | null;
    routeRefresh: boolean | null;
    gracefulRestart: boolean | null;
    extendedNextHop: string[];
    peerRouterID: string | null;
    localAddress: string | null;
  } | null;
  configured: { holdTimeSeconds: number | null; families: string[]; md5: boolean | null } | null;
  installRoutes: boolean | null;
  routesInstalled: number | null;
  problems: string[];
}

/** The session detail of `peer` (name or address) on `node`, or undefined if it reported none. */
export function sessionDetail(nodes: NodeLike[], node: string, peers: string[]): SessionDetail | undefined {
  const reported = nodes.find((n) => n.name === node);
  const entry = reported
    ? reportedSessions(reported)?.peers.find(
        ([address, r]) => peers.includes(address) || peers.includes(r.name),
      )
    : undefined;
  if (!entry) return undefined;
  const r = entry[1];
  const lastError = r.lastError ?? r.lastErrorDetail?.words;
  const neg = r.negotiated;
  return {
    flaps: r.flaps,
    lastError: lastError ? { words: lastError, at: r.lastErrorDetail?.at ?? null } : null,
    // JSONB keeps no key order: families in the order routers list them.
    families: Object.entries(r.prefixes)
      .map(([family, c]) => ({
        family,
        received: c.received,
        accepted: c.accepted,
        advertised: c.advertised,
      }))
      .sort((a, b) => familyRank(a.family) - familyRank(b.family) || a.family.localeCompare(b.family)),
    negotiated: neg ? { ...neg } : null,
    configured: {
      holdTimeSeconds: r.configured.holdTimeSeconds ?? null,
      families: r.configured.families,
      md5: r.configured.md5,
    },
    installRoutes: r.installRoutes,
    routesInstalled: r.routesInstalled,
    problems: r.problems,
  };
}

const FAMILY_ORDER = ["ipv4-unicast", "ipv6-unicast", "vpnv4", "vpnv6"];
function familyRank(f: string): number {
  const i = FAMILY_ORDER.indexOf(f);
  return i < 0 ? FAMILY_ORDER.length : i;
}
