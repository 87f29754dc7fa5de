// The console's long lists, one page at a time, as plain rows: the list pages render the first
// page with the page, and the virtual grid asks for the others (app/(console)/list-actions.ts)
// as they scroll into view. Everything a row shows is worked out here, on the server.
import { bgpSessions, duration } from "@/lib/bgp-status";
import { DROPS_MINUTES } from "@/lib/flows";
import { type NodeHealth, nodeHealth } from "@/lib/node-health";
import { serverCaller } from "./caller";

/** Rows fetched per request; the grid draws only those in view. */
export const LIST_PAGE = 100;

export interface ListPage<R> {
  total: number;
  rows: R[];
}

/** The page that holds `offset`, so a `?offset=` link lands inside the first page rendered. */
export const pageStart = (offset: number) => Math.floor(offset / LIST_PAGE) * LIST_PAGE;

export interface EndpointFilter {
  q?: string;
  namespace?: string;
  node?: string;
}

export interface EndpointRow {
  id: string;
  namespace: string;
  name: string;
  node: string;
  ips: string;
  identity: number | null;
  labels: [string, string][];
  selectedBy: { id: string; name: string }[];
  /** Packets dropped at this endpoint over the last DROPS_MINUTES, as its node's flows report them. */
  drops: number;
}

export async function endpointRows(
  f: EndpointFilter,
  offset: number,
  limit: number,
): Promise<ListPage<EndpointRow>> {
  const api = await serverCaller();
  // "Selected by" comes from the API, by the compiler's own selection rule.
  const list = await api.endpoints.list({
    search: f.q || undefined,
    namespace: f.namespace || undefined,
    node: f.node || undefined,
    limit,
    offset,
    selectedBy: true,
  });
  const drops = await api.flows.dropsByEndpoint({
    minutes: DROPS_MINUTES,
    endpoints: list.items.map((e) => `${e.namespace}/${e.name}`),
  });
  const dropsOf = new Map(drops.items.map((d) => [d.endpoint, d.packets]));
  const rows = list.items.map((e) => ({
    id: e.id,
    namespace: e.namespace,
    name: e.name,
    node: e.node,
    ips: [e.ipv4, e.ipv6].filter(Boolean).join(", "),
    identity: e.identityNumber,
    labels: Object.entries(e.labels),
    selectedBy: e.selectedBy ?? [],
    drops: dropsOf.get(`${e.namespace}/${e.name}`) ?? 0,
  }));
  return { total: list.total, rows };
}

export interface NodeFilter {
  q?: string;
  health?: string;
}

export interface NodeRow {
  name: string;
  health: NodeHealth;
  agentVersion: string | null;
  appliedRevision: number | null;
  currentRevision: number;
  components: { component: string; state: string; message: string | null }[];
  lastHeard: string;
}

export async function nodeRows(
  f: NodeFilter,
  offset: number,
  limit: number,
): Promise<ListPage<NodeRow> & { currentRevision: number }> {
  const api = await serverCaller();
  const status = await api.status.overview();
  const q = f.q?.trim().toLowerCase() ?? "";
  const all = status.nodes
    .map((n) => ({ ...n, health: nodeHealth(n) }))
    .filter((n) => (!f.health || n.health === f.health) && (!q || n.name.includes(q)));
  return {
    total: all.length,
    currentRevision: status.currentRevision,
    rows: all.slice(offset, offset + limit).map((n) => ({
      name: n.name,
      health: n.health,
      agentVersion: n.agentVersion ?? null,
      appliedRevision: n.appliedRevision ?? null,
      currentRevision: status.currentRevision,
      components: n.components.map((c) => ({
        component: c.component,
        state: c.state,
        message: c.message ?? null,
      })),
      lastHeard: n.lastHeartbeatAt ? n.lastHeartbeatAt.toISOString().slice(11, 19) : "never",
    })),
  };
}

export interface PolicyFilter {
  q?: string;
  namespace?: string;
}

export interface PolicyRow {
  id: string;
  name: string;
  namespace: string;
  enabled: boolean;
  selects: [string, string][];
  rules: string;
  version: number;
  updatedBy: string;
}

type Rule = { toFQDNs?: unknown[] };

export async function policyRows(
  f: PolicyFilter,
  offset: number,
  limit: number,
): Promise<ListPage<PolicyRow>> {
  const api = await serverCaller();
  const list = await api.policies.list({
    search: f.q || undefined,
    namespace: f.namespace === undefined || f.namespace === "*" ? undefined : f.namespace,
    limit,
    offset,
  });
  const rows = list.items.map((p) => {
    const s = p.spec as {
      endpointSelector?: { matchLabels?: Record<string, string> };
      ingress?: Rule[];
      egress?: Rule[];
      ingressDeny?: Rule[];
      egressDeny?: Rule[];
    };
    const fqdn = (s.egress ?? []).some((r) => r.toFQDNs?.length);
    const deny = (s.ingressDeny?.length ?? 0) + (s.egressDeny?.length ?? 0);
    return {
      id: p.id,
      name: p.name,
      namespace: String(p.namespace ?? ""),
      enabled: p.enabled,
      selects: Object.entries(s.endpointSelector?.matchLabels ?? {}),
      rules: `${s.ingress?.length ?? 0} in · ${s.egress?.length ?? 0} out${deny ? " · deny" : ""}${fqdn ? " · FQDN" : ""}`,
      version: p.version,
      updatedBy: p.updatedBy,
    };
  });
  return { total: list.total, rows };
}

export interface PeerRow {
  id: string;
  name: string;
  enabled: boolean;
  instance: string;
  address: string;
  peerASN: number;
  sessions: {
    node: string;
    state: string;
    uptime: string;
    received: number | null;
    advertised: number | null;
    lastError: string | null;
  }[];
}

export async function peerRows(f: { q?: string }, offset: number, limit: number): Promise<ListPage<PeerRow>> {
  const api = await serverCaller();
  const [peers, status] = await Promise.all([
    api.bgp.peers.list({ limit, offset, search: f.q || undefined }),
    api.status.overview(),
  ]);
  const sessions = bgpSessions(status.nodes);
  const rows = peers.items.map((p) => {
    const s = p.spec as { instance: string; address: string; peerASN: number };
    return {
      id: p.id,
      name: p.name,
      enabled: p.enabled,
      instance: s.instance,
      address: s.address,
      peerASN: s.peerASN,
      sessions: sessions
        .filter((x) => x.peer === s.address || x.peer === p.name)
        .map((m) => ({
          node: m.node,
          state: m.state,
          uptime: duration(m.uptimeSeconds),
          received: m.prefixesReceived,
          advertised: m.prefixesAdvertised,
          lastError: m.lastError,
        })),
    };
  });
  return { total: peers.total, rows };
}

export interface RevisionFilter {
  author?: string;
  entityId?: string;
}

export interface RevisionRow {
  number: number;
  when: string;
  who: string;
  what: string;
  objects: number;
}

export async function revisionRows(
  f: RevisionFilter,
  offset: number,
  limit: number,
): Promise<ListPage<RevisionRow> & { current: number }> {
  const api = await serverCaller();
  const list = await api.audit.list({
    limit,
    offset,
    author: f.author || undefined,
    entityId: f.entityId || undefined,
  });
  return {
    total: list.total,
    current: list.current,
    rows: list.items.map((r) => ({
      number: r.number,
      when: r.createdAt.toISOString().slice(0, 19).replace("T", " "),
      who: r.authorName,
      what: r.message,
      objects: r.entryCount,
    })),
  };
}
