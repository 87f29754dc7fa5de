// Pure translation from the control plane's BGP intent (plus routes other agent features add) to
// what BgpSpeaker needs: one speaker identity, peer configs, and the routes to originate. No I/O,
// so the same inputs always give the same plan and the controller can diff plans cheaply.

import {
  canonicalPrefix,
  type Family,
  isIpv6,
  type OriginateRoute,
  type PeerConfig,
  type PolicyConfig,
  type PolicyRule,
  type SidStructure,
  SrBehavior,
  splitPrefix,
} from "@meridian/bgp";
import type { BgpInstanceState, NodeDesiredState } from "@meridian/model";
import { type BgpFamily, type BgpImportPolicy, WELL_KNOWN_COMMUNITIES } from "@meridian/model";

export type DesiredBgp = NodeDesiredState["bgp"];
export type DesiredSrv6 = NodeDesiredState["srv6"];

/**
 * One route an agent feature wants advertised. PodCIDRs and Service VIPs arrive from the desired
 * state under the source "control-plane"; egress-gateway IPs and SRv6 VRF routes plug in through
 * `BgpController.setRoutes(source, routes)` with the same shape.
 */
export interface AdvertisedRoute {
  prefix: string;
  /** Inferred from the prefix (unicast) or from `routeDistinguisher` (VPN) when absent. */
  family?: BgpFamily;
  communities?: string[];
  largeCommunities?: string[];
  /** Sent to iBGP peers only: RFC 4271 §5.1.5 forbids LOCAL_PREF towards external peers. */
  localPreference?: number;
  /** VPN routes: RD, export route targets and the SRv6 service SID. */
  routeDistinguisher?: string;
  routeTargets?: string[];
  srv6?: { sid: string; behavior: number; structure?: SidStructure };
  /** Peer names (as in the desired state); absent means every peer with the family enabled. */
  peers?: string[];
  /** Why the route exists (advertisement name, policy…), shown in the looking glass. */
  origin?: string;
}

export interface PlanContext {
  /** Interface addresses of the node ("10.0.0.5/24"): pick the session source and v4/v6 next hops. */
  nodeAddresses?: string[];
  srv6?: DesiredSrv6;
  /** MD5 keys by passwordRef, resolved by the controller before planning. */
  passwords?: Map<string, string>;
}

export interface PlannedPeer {
  name: string;
  instance: string;
  config: PeerConfig;
  installRoutes: boolean;
  /** Problems in words, e.g. a password reference that could not be resolved. */
  problems: string[];
}

/** One BGP instance on this node: one speaker with its own ASN, router ID, RIBs and peers. */
export interface InstancePlan {
  name: string;
  /** Absent when the instance cannot run (no router ID): its speaker should not run. */
  speaker?: { asn: number; routerId: string; instance: string };
  peers: PlannedPeer[];
  /** Keyed by `routeKey`; only what differs between plans is re-originated or withdrawn. */
  originate: Map<string, OriginateRoute>;
  problems: string[];
}

export interface BgpPlan {
  /** Every instance that selects this node, in the desired state's order. Empty: no speaker runs. */
  instances: InstancePlan[];
  /** All instances' peers (each names its instance), for status and the looking glass. */
  peers: PlannedPeer[];
  problems: string[];
}

const FAMILY_TO_SPEAKER: Record<BgpFamily, Family> = {
  "ipv4-unicast": "ipv4-unicast",
  "ipv6-unicast": "ipv6-unicast",
  vpnv4: "ipv4-vpn",
  vpnv6: "ipv6-vpn",
};
const FAMILY_FROM_SPEAKER: Record<Family, BgpFamily> = {
  "ipv4-unicast": "ipv4-unicast",
  "ipv6-unicast": "ipv6-unicast",
  "ipv4-vpn": "vpnv4",
  "ipv6-vpn": "vpnv6",
};

export function toSpeakerFamily(f: BgpFamily): Family {
  return FAMILY_TO_SPEAKER[f];
}

export function fromSpeakerFamily(f: Family): BgpFamily {
  return FAMILY_FROM_SPEAKER[f];
}

/** Accepts the control plane's names and the speaker's ("vpnv4" or "ipv4-vpn"). */
export function parseFamily(text: string): Family | undefined {
  if (text in FAMILY_TO_SPEAKER) return FAMILY_TO_SPEAKER[text as BgpFamily];
  return text in FAMILY_FROM_SPEAKER ? (text as Family) : undefined;
}

const BEHAVIORS: Record<string, number> = {
  "End.DT4": SrBehavior.EndDT4,
  "End.DT6": SrBehavior.EndDT6,
  "End.DT46": SrBehavior.EndDT46,
};

function familyOfRoute(r: AdvertisedRoute): BgpFamily {
  if (r.family) return r.family;
  const v6 = isIpv6(r.prefix.split("/")[0]!);
  if (r.routeDistinguisher) return v6 ? "vpnv6" : "vpnv4";
  return v6 ? "ipv6-unicast" : "ipv4-unicast";
}

export function routeKey(family: Family, prefix: string, rd?: string): string {
  return `${family}|${rd ?? ""}|${canonicalPrefix(prefix)}`;
}

function ipToBigInt(ip: string): { v6: boolean; n: bigint } {
  if (!isIpv6(ip)) return { v6: false, n: ip.split(".").reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n) };
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return { v6: true, n: groups.reduce((a, g) => (a << 16n) | BigInt(Number.parseInt(g || "0", 16)), 0n) };
}

function inPrefix(ip: string, prefix: string): boolean {
  const { addr, len } = splitPrefix(prefix);
  const a = ipToBigInt(ip);
  const p = ipToBigInt(addr);
  if (a.v6 !== p.v6) return false;
  const bits = BigInt(a.v6 ? 128 : 32);
  const shift = bits - BigInt(len);
  return a.n >> shift === p.n >> shift;
}

type SidLocators = {
  locators: {
    locator: string;
    structure?: Omit<SidStructure, "transpositionLength" | "transpositionOffset">;
  }[];
};

/** The SID structure of the locator a VRF's SID comes from, transposing the function bits (RFC 9252). */
function sidStructure(sid: string, srv6: SidLocators | undefined): SidStructure | undefined {
  const s = srv6?.locators.find((l) => inPrefix(sid, l.locator))?.structure;
  if (!s) return undefined;
  return {
    ...s,
    transpositionLength: s.functionLength,
    transpositionOffset: s.locatorBlockLength + s.locatorNodeLength,
  };
}

/** A VRF route's Prefix-SID: its SID, the behaviour's code point and the (transposed) structure. */
export function vrfRouteSrv6(
  sid: string,
  behavior: string,
  srv6: SidLocators | undefined,
): NonNullable<AdvertisedRoute["srv6"]> {
  return { sid, behavior: BEHAVIORS[behavior] ?? SrBehavior.EndDT46, structure: sidStructure(sid, srv6) };
}

/** The desired state's per-peer routes as one source of advertisements. */
export function controlPlaneRoutes(instance: BgpInstanceState, srv6?: DesiredSrv6): AdvertisedRoute[] {
  const out: AdvertisedRoute[] = [];
  for (const peer of instance.peers) {
    for (const r of peer.routes) {
      const vrf = r.vrf ? srv6?.vrfs.find((v) => v.name === r.vrf) : undefined;
      const sid = r.sid ?? vrf?.sid;
      out.push({
        prefix: r.prefix,
        ...(r.vrf ? { family: isIpv6(r.prefix.split("/")[0]!) ? "vpnv6" : "vpnv4" } : {}),
        communities: r.communities,
        largeCommunities: r.largeCommunities,
        ...(r.localPreference !== undefined ? { localPreference: r.localPreference } : {}),
        ...(r.routeDistinguisher ? { routeDistinguisher: r.routeDistinguisher } : {}),
        ...(r.routeTargets ? { routeTargets: r.routeTargets } : {}),
        ...(sid && vrf ? { srv6: vrfRouteSrv6(sid, vrf.behavior, srv6) } : {}),
        peers: [peer.name],
        origin: r.vrf ? `${r.advertisement} (vrf ${r.vrf})` : r.advertisement,
      });
    }
  }
  return out;
}

interface PeerRouteAttrs {
  communities: Set<string>;
  largeCommunities: Set<string>;
  localPreference?: number;
}

/**
 * Export policy for one peer: an exact-prefix accept rule per distinct attribute set, default
 * reject. Per-peer attributes live here rather than on the originated route because the same
 * prefix may carry different communities towards different peers; and a policy edit re-evaluates
 * the Adj-RIB-Out in place, so advertisement changes never reset the session.
 */
function exportPolicy(
  routes: Map<string, { family: Family; prefix: string; attrs: PeerRouteAttrs }>,
  ibgp: boolean,
): PolicyConfig {
  const groups = new Map<string, PolicyRule>();
  for (const { family, prefix, attrs } of [...routes.values()].sort((a, b) =>
    a.prefix < b.prefix ? -1 : 1,
  )) {
    const set: NonNullable<PolicyRule["set"]> = {};
    if (attrs.communities.size) set.communities = [...attrs.communities].sort();
    if (attrs.largeCommunities.size) set.largeCommunities = [...attrs.largeCommunities].sort();
    if (ibgp && attrs.localPreference !== undefined) set.localPref = attrs.localPreference;
    const id = `${family}|${JSON.stringify(set)}`;
    let rule = groups.get(id);
    if (!rule) {
      rule = {
        match: { families: [family], prefixes: [] },
        action: "accept",
        ...(Object.keys(set).length ? { set } : {}),
      };
      groups.set(id, rule);
    }
    const prefixes = rule.match!.prefixes!;
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
  }
  return {
    rules: [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r),
    default: "reject",
  };
}

/** "no-peer" → "65535:65284": the API knows more well-known names than the speaker parses. */
function numericCommunity(text: string): string {
  const v = WELL_KNOWN_COMMUNITIES[text];
  return v === undefined ? text : `${v >>> 16}:${v & 0xffff}`;
}

/**
 * The peer's import policy in the speaker's terms. Absent in the desired state: every route is
 * kept for the looking glass — safe because nothing learned is re-advertised (export policy holds
 * our own routes only) and the API refuses `installRoutes` without a policy (RFC 8212's intent).
 */
export function importPolicyConfig(policy: BgpImportPolicy | undefined): PolicyConfig {
  if (!policy) return "accept-all";
  return {
    rules: policy.rules.map((r): PolicyRule => {
      const prefix = r.prefix
        ? `${r.prefix}${r.ge !== undefined ? ` ge ${r.ge}` : ""}${r.le !== undefined ? ` le ${r.le}` : ""}`
        : undefined;
      return {
        match: {
          ...(prefix ? { prefixes: [prefix] } : {}),
          ...(r.communities ? { communities: r.communities.map(numericCommunity) } : {}),
          ...(r.families ? { families: r.families.map(toSpeakerFamily) } : {}),
        },
        action: r.action,
        ...(r.localPreference !== undefined ? { set: { localPref: r.localPreference } } : {}),
      };
    }),
    default: policy.default,
  };
}

function pickAddress(addrs: string[], want: (ip: string, cidr: string) => boolean): string | undefined {
  for (const cidr of addrs) {
    const ip = cidr.split("/")[0]!;
    if (want(ip, cidr)) return ip;
  }
  return undefined;
}

/** Builds the plan. `sources` maps a source name to its routes; "control-plane" is the desired state. */
export function planBgp(
  desired: DesiredBgp,
  sources: Map<string, AdvertisedRoute[]>,
  ctx: PlanContext = {},
): BgpPlan {
  // One listener on :179 serves every instance and hands a connection over by its source
  // address, so a peer address can belong to one instance only (the API and the compiler refuse
  // duplicates; this keeps an older control plane's state from breaking the others).
  const taken = new Map<string, { instance: string; peer: string }>();
  const instances = desired.instances.map((inst) => planInstance(inst, sources, ctx, taken));
  return {
    instances,
    peers: instances.flatMap((i) => i.peers),
    problems: instances.flatMap((i) => i.problems),
  };
}

function planInstance(
  instance: BgpInstanceState,
  sources: Map<string, AdvertisedRoute[]>,
  ctx: PlanContext,
  taken: Map<string, { instance: string; peer: string }>,
): InstancePlan {
  const problems: string[] = [];
  const originate = new Map<string, OriginateRoute>();
  const addrs = ctx.nodeAddresses ?? [];
  const routerId = instance.routerID ?? pickAddress(addrs, (ip) => !isIpv6(ip));
  if (!routerId) {
    problems.push(
      `BGP instance ${instance.name} has no router ID: set routerID or give the node an IPv4 address`,
    );
    return { name: instance.name, peers: [], originate, problems };
  }

  const all: AdvertisedRoute[] = [
    ...controlPlaneRoutes(instance, ctx.srv6),
    ...[...sources.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([, rs]) => rs),
  ];
  // Per peer: route key → attributes (merged when several advertisements pick the same prefix).
  const perPeer = new Map<string, Map<string, { family: Family; prefix: string; attrs: PeerRouteAttrs }>>();
  for (const p of instance.peers) perPeer.set(p.name, new Map());
  for (const r of all) {
    const bf = familyOfRoute(r);
    const family = toSpeakerFamily(bf);
    const prefix = canonicalPrefix(r.prefix);
    if (bf.startsWith("vpn") && !r.routeDistinguisher) {
      problems.push(
        `route ${prefix} (${r.origin ?? "?"}) not advertised: VPN routes need a route distinguisher`,
      );
      continue;
    }
    const key = routeKey(family, prefix, r.routeDistinguisher);
    const targets = instance.peers.filter(
      (p) => p.families.includes(bf) && (r.peers === undefined || r.peers.includes(p.name)),
    );
    if (targets.length === 0) continue;
    if (!originate.has(key)) {
      originate.set(key, {
        family,
        prefix,
        ...(r.routeDistinguisher ? { rd: r.routeDistinguisher } : {}),
        ...(r.routeTargets?.length ? { extendedCommunities: r.routeTargets.map((t) => `rt:${t}`) } : {}),
        ...(r.srv6 ? { srv6: r.srv6 } : {}),
      });
    }
    for (const p of targets) {
      const m = perPeer.get(p.name)!;
      let e = m.get(key);
      if (!e) {
        e = { family, prefix, attrs: { communities: new Set(), largeCommunities: new Set() } };
        m.set(key, e);
      }
      for (const c of r.communities ?? []) e.attrs.communities.add(c);
      for (const c of r.largeCommunities ?? []) e.attrs.largeCommunities.add(c);
      // Several advertisements for one prefix: the highest preference wins, as a router would pick.
      if (r.localPreference !== undefined)
        e.attrs.localPreference = Math.max(e.attrs.localPreference ?? 0, r.localPreference);
    }
  }

  const nextHop4 = pickAddress(addrs, (ip) => !isIpv6(ip));
  const nextHop6 = pickAddress(addrs, (ip) => isIpv6(ip) && !ip.toLowerCase().startsWith("fe80"));
  const peers: PlannedPeer[] = instance.peers.map((p) => {
    const peerProblems: string[] = [];
    const key = canonicalAddress(p.address);
    const owner = taken.get(key);
    if (owner) {
      peerProblems.push(
        `address ${p.address} is already peer ${owner.peer} of BGP instance ${owner.instance} on this node; session not started (a node's instances must not share a peer address)`,
      );
    } else taken.set(key, { instance: instance.name, peer: p.name });
    let md5Password: string | undefined;
    if (p.hasPassword) {
      md5Password = p.passwordRef ? ctx.passwords?.get(p.passwordRef) : undefined;
      if (md5Password === undefined)
        peerProblems.push("TCP-MD5 password could not be fetched; session not started");
    }
    const ibgp = p.peerASN === instance.localASN;
    // The session's source: our address on the peer's subnet (directly connected peers).
    const localAddress = pickAddress(
      addrs,
      (ip, cidr) => cidr.includes("/") && inPrefix(p.address, cidr) && ip !== p.address,
    );
    const config: PeerConfig = {
      address: p.address,
      asn: p.peerASN,
      port: p.port,
      description: p.name,
      families: p.families.map(toSpeakerFamily),
      holdTime: p.holdTimeSeconds,
      // The compiler fills in a third of the hold time when none is configured; the session caps
      // it there when the peer negotiates a shorter hold time.
      keepalive: p.keepaliveSeconds,
      connectRetry: p.connectRetrySeconds,
      ...(p.ebgpMultihop !== undefined ? { ebgpMultihop: p.ebgpMultihop } : {}),
      ...(md5Password !== undefined ? { md5Password } : {}),
      ...(localAddress ? { localAddress } : {}),
      ...(nextHop4 ? { nextHopIpv4: nextHop4 } : {}),
      ...(nextHop6 ? { nextHopIpv6: nextHop6 } : {}),
      ...(p.gracefulRestart?.enabled
        ? {
            gracefulRestart: {
              restartTime: p.gracefulRestart.restartTimeSeconds,
              // The datapath keeps forwarding while the agent restarts (programs stay attached).
              forwardingPreserved: true,
            },
          }
        : {}),
      importPolicy: importPolicyConfig(p.importPolicy),
      exportPolicy: exportPolicy(perPeer.get(p.name)!, ibgp),
    };
    return {
      name: p.name,
      instance: instance.name,
      config,
      installRoutes: !!p.installRoutes,
      problems: peerProblems,
    };
  });
  return {
    name: instance.name,
    speaker: { asn: instance.localASN, routerId, instance: instance.name },
    peers,
    originate,
    problems,
  };
}

/** "2001:DB8::1" and "2001:db8:0::1" are one peer. */
function canonicalAddress(ip: string): string {
  return canonicalPrefix(`${ip}/${isIpv6(ip) ? 128 : 32}`);
}

/**
 * The PeerConfig fields whose change makes BgpSpeaker reset the session (mirrors its SESSION_FIELDS,
 * which it does not export): the controller counts such resets as flaps across the re-created session.
 */
export const SESSION_RESET_FIELDS: (keyof PeerConfig)[] = [
  "asn",
  "port",
  "localAddress",
  "passive",
  "families",
  "holdTime",
  "keepalive",
  "connectRetry",
  "ebgpMultihop",
  "md5Password",
  "gracefulRestart",
  "extendedNextHop",
];

export function sessionResets(before: PeerConfig, after: PeerConfig): boolean {
  return SESSION_RESET_FIELDS.some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
