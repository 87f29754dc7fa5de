// BGP for one node: instances whose nodeSelector matches it, their peers, and each peer's routes
// resolved from advertisements to concrete prefixes.

import type { BgpAdvertisementSpec, BgpFamily } from "../spec";
import {
  aggregateCidrs,
  canonicalCidr,
  effectiveKeepalive,
  parseCidr,
  parseIp,
  peerAddressConflictMessage,
  peerAddressKey,
  selectorMatches,
} from "../spec";
import { resolveGateways } from "./egress";
import { byText } from "./hash";
import type { ClusterSnapshot, SnapshotBgpAdvertisement, SnapshotBgpPeer, SnapshotNode } from "./snapshot";
import type { BgpInstanceState, BgpPeerState, BgpRouteState, CompileProblem, Srv6VrfState } from "./types";

function hostRoute(ip: string): string | undefined {
  const parsed = parseIp(ip);
  return parsed ? `${parsed.text}/${parsed.family === 4 ? 32 : 128}` : undefined;
}

interface Prefix {
  prefix: string;
  vrf?: Srv6VrfState;
}

function servicePrefixes(
  snapshot: ClusterSnapshot,
  ad: Extract<BgpAdvertisementSpec, { type: "Service" }>,
): Prefix[] {
  const addresses = snapshot.services
    .filter((svc) => ad.service.selector !== undefined && selectorMatches(ad.service.selector, svc.labels))
    .flatMap((svc) => [
      ...(ad.service.addresses.includes("ClusterIP") ? svc.clusterIPs : []),
      ...(ad.service.addresses.includes("LoadBalancerIP") ? svc.loadBalancerIPs : []),
      ...(ad.service.addresses.includes("ExternalIP") ? svc.externalIPs : []),
    ])
    .map(hostRoute)
    .filter((p): p is string => p !== undefined);
  const unique = [...new Set(addresses)];
  return (ad.service.aggregate ? aggregateCidrs(unique) : unique).map((prefix) => ({ prefix }));
}

function egressIpPrefixes(snapshot: ClusterSnapshot, nodeName: string): Prefix[] {
  return snapshot.egressPolicies
    .filter((p) => p.spec.enabled !== false && p.spec.advertiseEgressIP)
    .flatMap((p) => resolveGateways(snapshot, p))
    .filter((g) => g.node === nodeName && g.active && g.egressIP !== undefined)
    .map((g) => ({ prefix: hostRoute(g.egressIP!)! }));
}

function vrfPrefixes(snapshot: ClusterSnapshot, vrfNames: string[], vrfs: Srv6VrfState[]): Prefix[] {
  const endpoints = new Map(snapshot.endpoints.map((ep) => [ep.id, ep]));
  return vrfs
    .filter((v) => vrfNames.includes(v.name))
    .flatMap((vrf) =>
      vrf.memberEndpoints.flatMap((id) => {
        const ep = endpoints.get(id);
        return [ep?.ipv4, ep?.ipv6]
          .map((ip) => (ip ? hostRoute(ip) : undefined))
          .filter((p): p is string => p !== undefined)
          .map((prefix) => ({ prefix, vrf }));
      }),
    );
}

function advertisementPrefixes(
  snapshot: ClusterSnapshot,
  node: SnapshotNode,
  ad: BgpAdvertisementSpec,
  vrfs: Srv6VrfState[],
): Prefix[] {
  switch (ad.type) {
    case "PodCIDR":
      return node.podCIDRs.map((c) => ({ prefix: canonicalCidr(c) }));
    case "Service":
      return servicePrefixes(snapshot, ad);
    case "EgressIP":
      return egressIpPrefixes(snapshot, node.name);
    case "VRFRoutes":
      return vrfPrefixes(snapshot, ad.vrfs, vrfs);
  }
}

/** Family a route travels in: VRF routes go as VPN routes, the rest as unicast. */
function routeFamily(prefix: Prefix): BgpFamily {
  const v4 = parseCidr(prefix.prefix)?.family === 4;
  if (prefix.vrf) return v4 ? "vpnv4" : "vpnv6";
  return v4 ? "ipv4-unicast" : "ipv6-unicast";
}

function advertisementAppliesTo(ad: BgpAdvertisementSpec, peer: SnapshotBgpPeer): boolean {
  if (ad.peers === undefined && ad.peerSelector === undefined) return true;
  return (
    (ad.peers ?? []).includes(peer.name) ||
    (ad.peerSelector !== undefined && selectorMatches(ad.peerSelector, peer.spec.labels))
  );
}

function peerRoutes(
  snapshot: ClusterSnapshot,
  node: SnapshotNode,
  peer: SnapshotBgpPeer,
  advertisements: SnapshotBgpAdvertisement[],
  vrfs: Srv6VrfState[],
): BgpRouteState[] {
  const routes: BgpRouteState[] = [];
  for (const ad of advertisements) {
    if (!advertisementAppliesTo(ad.spec, peer)) continue;
    for (const prefix of advertisementPrefixes(snapshot, node, ad.spec, vrfs)) {
      if (!peer.spec.families.includes(routeFamily(prefix))) continue;
      routes.push({
        prefix: prefix.prefix,
        advertisement: ad.name,
        communities: [...ad.spec.communities].sort(byText),
        largeCommunities: [...ad.spec.largeCommunities].sort(byText),
        ...(ad.spec.localPreference !== undefined ? { localPreference: ad.spec.localPreference } : {}),
        ...(prefix.vrf
          ? {
              vrf: prefix.vrf.name,
              ...(prefix.vrf.routeDistinguisher ? { routeDistinguisher: prefix.vrf.routeDistinguisher } : {}),
              routeTargets: prefix.vrf.exportRouteTargets,
              sid: prefix.vrf.sid,
            }
          : {}),
      });
    }
  }
  return routes.sort(
    (a, b) =>
      byText(a.prefix, b.prefix) ||
      byText(a.vrf ?? "", b.vrf ?? "") ||
      byText(a.advertisement, b.advertisement),
  );
}

function peerState(peer: SnapshotBgpPeer, routes: BgpRouteState[]): BgpPeerState {
  const s = peer.spec;
  return {
    name: peer.name,
    address: s.address,
    peerASN: s.peerASN,
    port: s.port,
    holdTimeSeconds: s.holdTimeSeconds,
    keepaliveSeconds: effectiveKeepalive(s),
    connectRetrySeconds: s.connectRetrySeconds,
    ...(s.ebgpMultihop !== undefined ? { ebgpMultihop: s.ebgpMultihop } : {}),
    ...(s.gracefulRestart ? { gracefulRestart: { ...s.gracefulRestart } } : {}),
    families: [...s.families].sort(byText),
    hasPassword: peer.hasPassword,
    ...(peer.passwordRef ? { passwordRef: peer.passwordRef } : {}),
    ...(peer.passwordVersion ? { passwordVersion: peer.passwordVersion } : {}),
    // Only when set, so peers without them keep the content hash they had before these fields.
    ...(s.importPolicy ? { importPolicy: s.importPolicy } : {}),
    ...(s.installRoutes ? { installRoutes: true } : {}),
    routes,
  };
}

/**
 * `problems` gets the peers left out because an earlier instance (by name) of this node, or an
 * earlier peer of the same instance, already has their address: the agent's one listener tells
 * sessions apart by peer address (see peerAddressConflict in spec/bgp.ts).
 */
export function compileBgp(
  snapshot: ClusterSnapshot,
  node: SnapshotNode,
  vrfs: Srv6VrfState[],
  problems: CompileProblem[] = [],
): BgpInstanceState[] {
  const advertisements = [...snapshot.bgpAdvertisements].sort((a, b) => byText(a.name, b.name));
  const taken = new Map<string, { name: string; instance: string }>();
  const unique = (p: SnapshotBgpPeer, instance: string): boolean => {
    const key = peerAddressKey(p.spec.address);
    const other = taken.get(key);
    if (!other) {
      taken.set(key, { name: p.name, instance });
      return true;
    }
    problems.push({
      area: "bgp",
      object: p.name,
      message: `spec.address: ${peerAddressConflictMessage(p.spec.address, { ...other, address: p.spec.address }, node.name)}; peer ${p.name} is left out on this node`,
    });
    return false;
  };
  return snapshot.bgpInstances
    .filter((inst) => selectorMatches(inst.spec.nodeSelector, node.labels))
    .sort((a, b) => byText(a.name, b.name))
    .map((inst) => {
      const routerID =
        inst.spec.routerID ??
        node.addresses.map((a) => parseIp(a.split("/")[0]!)).find((ip) => ip?.family === 4)?.text;
      return {
        name: inst.name,
        localASN: inst.spec.localASN,
        ...(routerID ? { routerID } : {}),
        peers: snapshot.bgpPeers
          .filter((p) => p.spec.instance === inst.name)
          .sort((a, b) => byText(a.name, b.name))
          .filter((p) => unique(p, inst.name))
          .map((p) => peerState(p, peerRoutes(snapshot, node, p, advertisements, vrfs))),
      };
    });
}
