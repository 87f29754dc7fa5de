// Direct routing between nodes on a shared L2: every other node's PodCIDRs are routed via
// that node's address. Routes are tagged with our own protocol number so reconciling only
// ever touches routes the agent installed, and the diff is computed against the kernel,
// not against what we think we did last time.
import { isIPv4 } from "node:net";
import { parseCidr } from "../../ipam/cidr.js";
import { type IpRoute, ip, ipJson, type RunOptions } from "../../routing/exec.js";

export const PEER_ROUTE_PROTO = "77";

export interface PeerNode {
  name: string;
  /** The peer's node addresses; the one of each route's family is the next hop. */
  addresses: string[];
  podCIDRs: string[];
}

export interface PeerRoute {
  dst: string;
  via: string;
}

export function desiredPeerRoutes(peers: PeerNode[]): PeerRoute[] {
  const routes: PeerRoute[] = [];
  for (const peer of peers) {
    for (const cidr of peer.podCIDRs) {
      const c = parseCidr(cidr);
      const via = peer.addresses.find((a) => isIPv4(a) === (c.family === 4));
      if (via) routes.push({ dst: c.text, via });
    }
  }
  return routes;
}

export interface RouteChanges {
  added: PeerRoute[];
  removed: PeerRoute[];
}

/** `opts.netns` runs it against another namespace (tests); the agent uses its own. */
export async function reconcilePeerRoutes(
  desired: PeerRoute[],
  opts: RunOptions = {},
): Promise<RouteChanges> {
  const current: PeerRoute[] = [];
  for (const fam of ["-4", "-6"]) {
    const routes = await ipJson<IpRoute>([fam, "route", "show", "proto", PEER_ROUTE_PROTO], opts);
    for (const r of routes) if (r.gateway) current.push({ dst: normaliseDst(r.dst, fam), via: r.gateway });
  }
  const key = (r: PeerRoute) => `${r.dst} via ${r.via}`;
  const want = new Map(desired.map((r) => [key(r), r]));
  const have = new Map(current.map((r) => [key(r), r]));
  const removed = [...have.values()].filter((r) => !want.has(key(r)));
  const added = [...want.values()].filter((r) => !have.has(key(r)));
  for (const r of removed) {
    await ip(["route", "del", r.dst, "via", r.via, "proto", PEER_ROUTE_PROTO], opts);
  }
  for (const r of added) {
    await ip(["route", "replace", r.dst, "via", r.via, "proto", PEER_ROUTE_PROTO], opts);
  }
  return { added, removed };
}

function normaliseDst(dst: string, fam: string): string {
  // iproute2 prints a host route without its prefix length.
  if (dst.includes("/")) return parseCidr(dst).text;
  return `${dst}/${fam === "-4" ? 32 : 128}`;
}
