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
      out.push({
        node: node.name,
        peer,
        state: typeof r.state === "string" ? r.state.toLowerCase() : "unknown",
        uptimeSeconds:
          num(r.uptimeSeconds) ??
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
