// BGP sessions as agents report them: the node's "bgp" component carries
// `detail.peers: { "<peer address or name>": state | { state, uptimeSeconds, establishedAt,
// prefixesReceived, prefixesAdvertised, lastError } }`. Anything missing is shown as unknown.
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

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function bgpSessions(nodes: NodeLike[]): SessionReport[] {
  const out: SessionReport[] = [];
  for (const node of nodes) {
    const bgp = node.components.find((c) => c.component === "bgp");
    const peers = bgp?.detail?.peers;
    if (!bgp || !peers || typeof peers !== "object") continue;
    for (const [peer, raw] of Object.entries(peers as Record<string, unknown>)) {
      const r = (typeof raw === "object" && raw !== null ? raw : { state: raw }) as Record<string, unknown>;
      const established = typeof r.establishedAt === "string" ? Date.parse(r.establishedAt) : Number.NaN;
      const state = typeof r.state === "string" ? r.state.toLowerCase() : "unknown";
      // Agents report the uptime as of their report, and report again only when something
      // changes: an Established session has been up for as long again as the report is old.
      const reported = num(r.uptimeSeconds);
      const age = Math.max(0, (Date.now() - bgp.updatedAt.getTime()) / 1000);
      out.push({
        node: node.name,
        peer,
        state,
        uptimeSeconds:
          (reported !== null ? reported + (state === "established" ? age : 0) : null) ??
          (Number.isFinite(established) ? Math.max(0, (Date.now() - established) / 1000) : null),
        prefixesReceived: num(r.prefixesReceived),
        prefixesAdvertised: num(r.prefixesAdvertised),
        lastError: typeof r.lastError === "string" && r.lastError ? r.lastError : null,
        reportedAt: bgp.updatedAt,
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
 * Fields an older agent does not send are null / empty, never guessed.
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

const rec = (v: unknown): Record<string, unknown> | null =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);
const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" && v ? v : null);

/** The session detail of `peer` (name or address) on `node`, or undefined if it reported none. */
export function sessionDetail(nodes: NodeLike[], node: string, peers: string[]): SessionDetail | undefined {
  const bgp = nodes.find((n) => n.name === node)?.components.find((c) => c.component === "bgp");
  const all = rec(bgp?.detail?.peers);
  if (!all) return undefined;
  const entry = Object.entries(all).find(
    ([key, v]) => peers.includes(key) || (rec(v) && peers.includes(String(rec(v)!.name))),
  );
  const r = rec(entry?.[1]);
  if (!r) return undefined;
  const errDetail = rec(r.lastErrorDetail);
  const lastError = str(r.lastError) ?? str(errDetail?.words);
  const neg = rec(r.negotiated);
  const conf = rec(r.configured);
  return {
    flaps: num(r.flaps),
    lastError: lastError ? { words: lastError, at: str(errDetail?.at) } : null,
    // JSONB keeps no key order: families in the order routers list them.
    families: Object.entries(rec(r.prefixes) ?? {})
      .map(([family, c]) => ({
        family,
        received: num(rec(c)?.received),
        accepted: num(rec(c)?.accepted),
        advertised: num(rec(c)?.advertised),
      }))
      .sort((a, b) => familyRank(a.family) - familyRank(b.family) || a.family.localeCompare(b.family)),
    negotiated: neg
      ? {
          families: strs(neg.families),
          holdTimeSeconds: num(neg.holdTimeSeconds),
          keepaliveSeconds: num(neg.keepaliveSeconds),
          fourOctetAsn: bool(neg.fourOctetAsn),
          routeRefresh: bool(neg.routeRefresh),
          gracefulRestart: bool(neg.gracefulRestart),
          extendedNextHop: strs(neg.extendedNextHop),
          peerRouterID: str(neg.peerRouterID),
          localAddress: str(neg.localAddress),
        }
      : null,
    configured: conf
      ? { holdTimeSeconds: num(conf.holdTimeSeconds), families: strs(conf.families), md5: bool(conf.md5) }
      : null,
    installRoutes: bool(r.installRoutes),
    routesInstalled: num(r.routesInstalled),
    problems: strs(r.problems),
  };
}

const FAMILY_ORDER = ["ipv4-unicast", "ipv6-unicast", "vpnv4", "vpnv6"];
function familyRank(f: string): number {
  const i = FAMILY_ORDER.indexOf(f);
  return i < 0 ? FAMILY_ORDER.length : i;
}
