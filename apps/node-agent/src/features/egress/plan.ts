// From the desired state's `egressGateway` section (the compiler's EgressGatewayState per policy
// this node takes part in) and its `endpoints` to what the egress maps hold (kernel.ts), with the
// per-policy facts status shows. Pure: the feature and its tests call it.
//
// Per policy and family the node gets one gateway entry:
//   - the first active gateway is this node: "local" (this node SNATs) with the egress IP — the
//     gateway's egressIP, else its interface's address of that family, else the node's address;
//   - it is another node: "remote", steered to that node's address (of the same family: the kernel
//     resolves the next hop on the shared L2 by it);
//   - there is none, or no address of that family to steer to or send from: "none", so the
//     datapath drops the policy's traffic of that family rather than send it with the pod's IP.
// maxActiveGateways > 1 is honoured by the compiler's `active` flags, but the datapath uses the
// first active gateway for all connections (spreading them is HA work, not done).
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
  activeGateway: string | null;
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
    const active = p.gateways.find((g) => g.active);
    const mode: PlannedEgressPolicy["mode"] = { ipv4: null, ipv6: null };
    let egressIP: string | null = null;
    let uplink: string | null = null;
    for (const f of [4, 6] as const) {
      if (!families.has(f)) continue;
      let m: GatewayMode = "none";
      let nexthop: string | undefined;
      let eip: string | undefined;
      if (!active) {
        problems.push("no active gateway: matching traffic is dropped");
      } else if (active.node === ctx.nodeName) {
        eip = egressIPFor(active, f, ctx);
        const dev = eip && (active.interface ?? ctx.interfaceOf(eip));
        if (eip && dev) {
          m = "local";
          egressIP ??= eip;
          uplink ??= dev;
        } else if (eip) {
          problems.push(
            `egress IP ${eip} is on no interface of this node: IPv${f} traffic is not translated`,
          );
        } else
          problems.push(
            active.interface
              ? `interface ${active.interface} has no IPv${f} address: IPv${f} traffic is dropped`
              : `no IPv${f} egress IP: IPv${f} traffic is dropped`,
          );
      } else if (active.nodeIP && fam(active.nodeIP) === f) {
        m = "remote";
        nexthop = bare(active.nodeIP);
        if (active.egressIP && fam(active.egressIP) === f) egressIP ??= bare(active.egressIP);
      } else {
        problems.push(
          `gateway ${active.node} has no IPv${f} node address to steer to: IPv${f} traffic is dropped`,
        );
      }
      mode[f === 4 ? "ipv4" : "ipv6"] = m === "local" ? "snat" : m === "remote" ? "steer" : "drop";
      state.gateways.push({
        policyId,
        family: f,
        mode: m,
        ...(nexthop ? { nexthop } : {}),
        ...(eip ? { egressIP: eip } : {}),
      });
    }

    // A standby gateway keeps its uplink programs too: connections it translated while it was
    // active (and that their source nodes keep sending it) are still translated, not sent on
    // with the pod's address; it makes no new translations (its policy is not LOCAL here).
    const own = p.gateways.find((g) => g.node === ctx.nodeName);
    for (const f of [4, 6] as const) {
      if (uplink || !own || !families.has(f)) continue;
      const eip = egressIPFor(own, f, ctx);
      uplink = (eip && (own.interface ?? ctx.interfaceOf(eip))) || null;
    }

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
      activeGateway: active?.node ?? null,
      egressIP,
      uplink,
      selectedLocalPods: selected,
      missingLocalPods: missing,
      problems: [...new Set(problems)].slice(0, 16),
    });
  }
  return { state, policies };
}
