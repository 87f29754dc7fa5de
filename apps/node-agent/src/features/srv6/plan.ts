// From the desired state's `srv6` section, the node's endpoints and the BGP subsystem's received
// VPN routes to what the SRv6 maps hold (kernel.ts). Pure: the feature and its tests call it.
//
// Precedence: a static policy from the control plane wins over a BGP-learned route for the same
// VRF and prefix (operator intent over what a peer says); among BGP routes for one prefix the
// first by (peer, SID) wins, so the choice is stable. Longer prefixes win in the datapath (LPM).
//
// Export: each VRF with export route targets advertises its member pods' addresses as host routes
// (/32, /128) with its RD, export RTs and SID. Host routes, not the node's PodCIDR: pods of one
// node sit in different VRFs (or none) and the PodCIDR belongs to none of them.
import type { Srv6DatapathState } from "./kernel.js";
import { SRV6_MAX_SEGS } from "./kernel.js";

export interface Srv6Section {
  locators: {
    pool: string;
    locator: string;
    structure?: {
      locatorBlockLength: number;
      locatorNodeLength: number;
      functionLength: number;
      argumentLength: number;
    };
  }[];
  vrfs: {
    name: string;
    vrfID: number;
    behavior: "End.DT4" | "End.DT6" | "End.DT46";
    encapMode: "HEncaps" | "HEncapsRed";
    sid: string;
    routeDistinguisher?: string;
    importRouteTargets: string[];
    exportRouteTargets?: string[];
    memberEndpoints: string[];
  }[];
  policies: { name: string; vrf: string; vrfID: number; destination: string; segments: string[] }[];
}

export interface PlanEndpoint {
  ifindex: number;
  addresses: string[];
  mac?: string;
  hostMac?: string;
}

export interface PlanVpnRoute {
  peer: string;
  family: "vpnv4" | "vpnv6";
  routeTargets: string[];
  prefix: string;
  rd?: string;
  sid?: string;
  stale: boolean;
}

/** A VPN route this node advertises for a VRF (handed to the BGP subsystem). */
export interface ExportedRoute {
  vrf: string;
  prefix: string;
  routeDistinguisher: string;
  routeTargets: string[];
  sid: string;
  behavior: "End.DT4" | "End.DT6" | "End.DT46";
}

export interface PlannedPolicy {
  vrf: string;
  destination: string;
  segments: string[];
  source: "static" | "bgp";
  /** BGP-learned: the peer and RD the route came from (the SID is the one segment). */
  peer?: string;
  rd?: string;
  /** BGP-learned and still held by graceful restart after its session went down. */
  stale?: boolean;
}

export interface Srv6Plan {
  state: Srv6DatapathState;
  policies: PlannedPolicy[];
  /** BGP routes not used, and why (shown in status). */
  skipped: { prefix: string; peer: string; reason: string }[];
  /** VPN routes to advertise, and VRFs that export nothing, with the reason. */
  exported: ExportedRoute[];
  exportSkipped: { vrf: string; reason: string }[];
  /** Members the agent does not know (not on this node's CNI yet). */
  missingMembers: string[];
}

/** The node's SRv6 source: the given one, else the first locator's address ::1. */
export function defaultSource(section: Srv6Section): string | null {
  const loc = section.locators[0]?.locator;
  if (!loc) return null;
  const net = loc.split("/")[0] ?? "";
  return net.endsWith("::") ? `${net}1` : net;
}

export function planSrv6(
  section: Srv6Section | undefined,
  endpoint: (ref: string) => PlanEndpoint | undefined,
  vpnRoutes: PlanVpnRoute[],
  opts: { source?: string; mtu?: number } = {},
): Srv6Plan {
  const empty: Srv6DatapathState = { source: null, mtu: 0, members: [], policies: [], sids: [] };
  if (!section)
    return { state: empty, policies: [], skipped: [], missingMembers: [], exported: [], exportSkipped: [] };
  const state: Srv6DatapathState = {
    source: opts.source ?? defaultSource(section),
    mtu: opts.mtu ?? 0,
    members: [],
    policies: [],
    sids: [],
  };
  const missingMembers: string[] = [];
  const policies: PlannedPolicy[] = [];
  const skipped: Srv6Plan["skipped"] = [];
  const exported: ExportedRoute[] = [];
  const exportSkipped: Srv6Plan["exportSkipped"] = [];
  const byVrf = new Map(section.vrfs.map((v) => [v.name, v]));
  for (const vrf of section.vrfs) {
    state.sids.push({ sid: vrf.sid, vrfId: vrf.vrfID, behavior: vrf.behavior });
    const exportRts = vrf.exportRouteTargets ?? [];
    const rd = vrf.routeDistinguisher;
    if (exportRts.length > 0 && !rd)
      exportSkipped.push({ vrf: vrf.name, reason: "export route targets but no route distinguisher" });
    for (const ref of vrf.memberEndpoints) {
      const ep = endpoint(ref);
      if (!ep) {
        missingMembers.push(ref);
        continue;
      }
      for (const address of ep.addresses) {
        const v4 = !address.includes(":");
        // A DT4 SID cannot deliver IPv6 (nor DT6 IPv4): such a member address is not advertised.
        const decapsulable = vrf.behavior === "End.DT46" || (vrf.behavior === "End.DT4") === v4;
        if (exportRts.length > 0 && rd && decapsulable)
          exported.push({
            vrf: vrf.name,
            prefix: v4 ? `${address}/32` : `${address}/128`,
            routeDistinguisher: rd,
            routeTargets: exportRts,
            sid: vrf.sid,
            behavior: vrf.behavior,
          });
        state.members.push({
          vrfId: vrf.vrfID,
          ifindex: ep.ifindex,
          address,
          destinations: [v4 ? "0.0.0.0/0" : "::/0"],
          ...(ep.mac ? { mac: ep.mac } : {}),
          ...(ep.hostMac ? { hostMac: ep.hostMac } : {}),
        });
      }
    }
  }
  const taken = new Set<string>();
  for (const p of section.policies) {
    const vrf = byVrf.get(p.vrf);
    if (!vrf) continue; // a VRF this node does not serve (no members here)
    taken.add(`${vrf.vrfID} ${p.destination}`);
    policies.push({ vrf: vrf.name, destination: p.destination, segments: p.segments, source: "static" });
  }
  const sorted = [...vpnRoutes].sort((a, b) =>
    a.peer === b.peer ? ((a.sid ?? "") < (b.sid ?? "") ? -1 : 1) : a.peer < b.peer ? -1 : 1,
  );
  for (const vrf of section.vrfs) {
    for (const r of sorted) {
      if (!r.routeTargets.some((t) => vrf.importRouteTargets.includes(t))) continue;
      if (!r.sid) {
        skipped.push({ prefix: r.prefix, peer: r.peer, reason: "no SRv6 SID" });
        continue;
      }
      const key = `${vrf.vrfID} ${r.prefix}`;
      if (taken.has(key)) {
        skipped.push({
          prefix: r.prefix,
          peer: r.peer,
          reason: `VRF ${vrf.name}: a static policy or an earlier route holds it`,
        });
        continue;
      }
      taken.add(key);
      policies.push({
        vrf: vrf.name,
        destination: r.prefix,
        segments: [r.sid],
        source: "bgp",
        peer: r.peer,
        ...(r.rd ? { rd: r.rd } : {}),
        ...(r.stale ? { stale: true } : {}),
      });
    }
  }
  for (const p of policies) {
    const vrf = byVrf.get(p.vrf);
    if (!vrf) continue;
    if (p.segments.length > SRV6_MAX_SEGS)
      throw new RangeError(
        `policy ${p.vrf} ${p.destination}: ${p.segments.length} segments (at most ${SRV6_MAX_SEGS})`,
      );
    state.policies.push({
      vrfId: vrf.vrfID,
      destination: p.destination,
      segments: p.segments,
      mode: vrf.encapMode,
      source: p.source,
    });
  }
  return { state, policies, skipped, missingMembers, exported, exportSkipped };
}
