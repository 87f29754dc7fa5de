// From the desired state's `egressGateway` section (the compiler's EgressGatewayState per policy
// this node takes part in) and its `endpoints` to what the egress maps hold (kernel.ts), with the
// per-policy facts status shows. Pure: the feature and its tests call it.
//
// Per policy and family the node gets one gateway entry, for the first gateway of the control
// plane's ordered list (`gateways[]`: active ones first) that is healthy here (`ctx.healthy`, from
// the agents' own probes, health.ts; failover is this choice, made locally):
//   - it is this node: "local" (this node SNATs) with the egress IP — the gateway's egressIP,
//     else its interface's address of that family, else the node's address — when that address
//     is on an interface that is up (else this node is not healthy and the next one is taken);
//   - it is another node: "remote", steered to that node's address (of the same family: the kernel
//     resolves the next hop on the shared L2 by it);
//   - there is none healthy, or no address of that family to steer to or send from: "none", so the
//     datapath drops the policy's traffic of that family rather than send it with the pod's IP.
// A gateway of the policy that is not the one chosen here keeps its egress IP with `translate`:
// it translates what other nodes steer to it (they may have failed over before this node did).
// maxActiveGateways > 1 is honoured by the compiler's `active` flags, but the datapath uses the
// first healthy gateway for all connections (spreading them is not done).
import { isIPv4 } from "node:net";
import type { NodeDesiredState } from "../../sync/channel.js";
import type { EgressDatapathState, GatewayMode } from "./kernel.js";

export type EgressSection = NodeDesiredState["egressGateway"];
export type EgressPolicyState = EgressSection[number];

export interface PlannedEgressPolicy {
  policy: string;
  policyId: number;
  role: "source" | "gateway" | "source+gateway";
  mode: { ipv4: "steer" | "snat" | "drop" | null; ipv6: "steer" | "snat" | "drop" | null };
  /** The gateway new connections use from this node: the first healthy one of `gateways`. */
  activeGateway: string | null;
  /** The control plane's first active gateway (intent), for telling a failover apart. */
  intendedGateway: string | null;
  /** The policy's gateways in the control plane's order, with their health as seen from here. */
  gateways: { node: string; healthy: boolean; reason?: string }[];
  /** This node is a gateway of the policy and cannot translate its traffic now (why), else null. */
  cannotServe: string | null;
  egressIP: string | null;
  /** This node a gateway of the policy (active or standby): the interface its translation runs on (the egress IP's). */
  uplink: string | null;
  /** Local pods selected (source role), and those the agent has no address for. */
  selectedLocalPods: string[];
  missingLocalPods: string[];
  problems: string[];
}

export interface EgressPlan {
  state: EgressDatapathState;
  policies: PlannedEgressPolicy[];
}

export interface EgressPlanContext {
  /** This node's name (is the active gateway this node?). */
  nodeName: string;
  /** The addresses of one of this node's interfaces (for a gateway given by `interface`). */
  interfaceAddresses(name: string): string[];
  /** The interface holding `ip`, or one whose subnet holds it. */
  interfaceOf(ip: string): string | undefined;
  /** Whether another node's gateway is healthy for the policy (probes); default: all are. */
  healthy?(
    policy: string,
    gateway: EgressPolicyState["gateways"][number],
  ): { healthy: boolean; reason?: string };
  /** Whether this node's interface is up; default: it is. */
  linkUp?(ifname: string): boolean;
}

/**
 * A policy's datapath id: FNV-1a of its name, so it stays the same across agent restarts and
 * other policies' changes (the datapath's flow pins and translations carry it). 0 is never used.
 */
export function egressPolicyId(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, "utf8")) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

const fam = (a: string): 4 | 6 => (isIPv4(a.split("/")[0] ?? a) ? 4 : 6);
const bare = (a: string) => a.split("/")[0] ?? a;

function egressIPFor(
  gw: EgressPolicyState["gateways"][number],
  f: 4 | 6,
  ctx: EgressPlanContext,
): string | undefined {
  if (gw.egressIP) return fam(gw.egressIP) === f ? bare(gw.egressIP) : undefined;
  if (gw.interface)
    return ctx
      .interfaceAddresses(gw.interface)
      .map(bare)
      .find((a) => fam(a) === f);
  return gw.nodeIP && fam(gw.nodeIP) === f ? bare(gw.nodeIP) : undefined;
}

export function planEgress(
  section: EgressSection | undefined,
  endpoints: NodeDesiredState["endpoints"],
  ctx: EgressPlanContext,
): EgressPlan {
  const state: EgressDatapathState = { entries: [], gateways: [] };
  const policies: PlannedEgressPolicy[] = [];
  const byId = new Map(endpoints.map((e) => [e.id, e]));
  const ids = new Map<number, string>();
  // One entry per (source, CIDR): the first policy by name holds it (the compiler sorts them).
  const taken = new Map<string, string>();

  for (const p of [...(section ?? [])].sort((a, b) =>
    a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0,
  )) {
    const policyId = egressPolicyId(p.policy);
    const clash = ids.get(policyId);
    if (clash !== undefined && clash !== p.policy)
      throw new Error(`egress policies ${clash} and ${p.policy} hash to the same datapath id ${policyId}`);
    ids.set(policyId, p.policy);
    const problems: string[] = [];
    const selected: string[] = [];
    const missing: string[] = [];
    const sources = new Set<string>();
    if (p.isSource) {
      for (const id of p.localSourceEndpoints) {
        const ep = byId.get(id);
        const addrs = [ep?.ipv4, ep?.ipv6].filter((a): a is string => a !== undefined);
        if (addrs.length === 0) {
          missing.push(id);
          continue;
        }
        selected.push(id);
        for (const a of addrs) sources.add(bare(a));
      }
    }
    if (p.isGateway) for (const a of p.sourceIPs) sources.add(bare(a));

    const families = new Set([...p.destinationCIDRs].map(fam));
    const mode: PlannedEgressPolicy["mode"] = { ipv4: null, ipv6: null };
    let egressIP: string | null = null;
    let uplink: string | null = null;
    let activeGateway: string | null = null;
    const own = p.gateways.find((g) => g.node === ctx.nodeName);
    // This node as a gateway of the policy: per family, the egress IP and the interface it leaves by.
    const local = new Map<4 | 6, { eip?: string; dev?: string; problem?: string }>();
    for (const f of [4, 6] as const) {
      if (!own || !families.has(f)) continue;
      const eip = egressIPFor(own, f, ctx);
      const dev = eip ? (own.interface ?? ctx.interfaceOf(eip)) : undefined;
      local.set(f, {
        eip,
        dev,
        problem: !eip
          ? own.interface
            ? `interface ${own.interface} has no IPv${f} address: IPv${f} traffic is dropped`
            : `no IPv${f} egress IP: IPv${f} traffic is dropped`
          : !dev
            ? `egress IP ${eip} is on no interface of this node: IPv${f} traffic is not translated`
            : ctx.linkUp && !ctx.linkUp(dev)
              ? `uplink ${dev} is down`
              : undefined,
      });
    }
    const cannotServe = [...local.values()].find((l) => l.problem)?.problem ?? null;
    const health = p.gateways.map((g) => {
      if (g.node === ctx.nodeName)
        return cannotServe
          ? { node: g.node, healthy: false, reason: cannotServe }
          : { node: g.node, healthy: true };
      const h = ctx.healthy?.(p.policy, g) ?? { healthy: true };
      return { node: g.node, healthy: h.healthy, ...(h.reason ? { reason: h.reason } : {}) };
    });
    const healthyGateways = p.gateways.filter((_, i) => health[i]!.healthy);
    if (cannotServe) problems.push(cannotServe);
    const intended = p.gateways.find((g) => g.active);
    for (const f of [4, 6] as const) {
      if (!families.has(f)) continue;
      let m: GatewayMode = "none";
      let nexthop: string | undefined;
      let eip: string | undefined;
      // The first healthy gateway that can carry this family.
      const active = healthyGateways.find((g) =>
        g.node === ctx.nodeName
          ? local.get(f)?.problem === undefined
          : g.nodeIP !== undefined && fam(g.nodeIP) === f,
      );
      if (!active || !intended) {
        if (!intended) problems.push("no active gateway: matching traffic is dropped");
        else if (healthyGateways.length === 0)
          problems.push(
            p.gateways.length === 1 && cannotServe
              ? cannotServe
              : "all gateways are down: matching traffic is dropped",
          );
        else
          problems.push(
            `no healthy gateway has an IPv${f} node address to steer to: IPv${f} traffic is dropped`,
          );
      } else if (active.node === ctx.nodeName) {
        const l = local.get(f)!;
        m = "local";
        eip = l.eip;
        egressIP ??= l.eip ?? null;
        uplink ??= l.dev ?? null;
      } else {
        m = "remote";
        nexthop = bare(active.nodeIP!);
        if (active.egressIP && fam(active.egressIP) === f) egressIP ??= bare(active.egressIP);
      }
      if (active && intended) activeGateway ??= active.node;
      // Not the chosen gateway here, but one of the policy's: translate what others steer to it.
      const standby = m !== "local" && local.get(f)?.problem === undefined ? local.get(f) : undefined;
      mode[f === 4 ? "ipv4" : "ipv6"] = m === "local" ? "snat" : m === "remote" ? "steer" : "drop";
      state.gateways.push({
        policyId,
        family: f,
        mode: m,
        ...(nexthop ? { nexthop } : {}),
        ...(eip ? { egressIP: eip } : standby?.eip ? { egressIP: standby.eip, translate: true } : {}),
      });
    }

    // A standby gateway keeps its uplink programs too: connections it translated while it was
    // active (and that their source nodes keep sending it) are still translated, not sent on
    // with the pod's address; it makes no new translations (its policy is not LOCAL here).
    for (const l of local.values()) uplink ??= l.dev ?? null;

    const add = (source: string, destination: string, excluded: boolean) => {
      if (fam(source) !== fam(destination)) return;
      const key = `${source} ${destination}`;
      const holder = taken.get(key);
      if (holder !== undefined) {
        if (holder !== p.policy) problems.push(`${source} to ${destination}: policy ${holder} holds it`);
        return;
      }
      taken.set(key, p.policy);
      state.entries.push({ source, destination, policyId, excluded });
    };
    for (const s of [...sources].sort()) {
      for (const d of p.destinationCIDRs) add(s, d, false);
      for (const d of p.excludedCIDRs) add(s, d, true);
    }

    policies.push({
      policy: p.policy,
      policyId,
      role: p.isSource && p.isGateway ? "source+gateway" : p.isGateway ? "gateway" : "source",
      mode,
      activeGateway,
      intendedGateway: intended?.node ?? null,
      gateways: health,
      cannotServe,
      egressIP,
      uplink,
      selectedLocalPods: selected,
      missingLocalPods: missing,
      problems: [...new Set(problems)].slice(0, 16),
    });
  }
  return { state, policies };
}
