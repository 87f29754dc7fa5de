// The egress gateway's kernel side: its maps (bpf/lib/egress_gw.h), opened by their pins under the
// node's pin directory, their byte layouts, and the one write that makes the policy and gateway
// maps a wanted state, all or nothing (datapath/transaction.ts). The flow and SNAT maps belong to
// the datapath (it creates their entries); the agent only reads them and removes the entries of
// policies that are gone, so a connection pinned to a removed policy's gateway is not kept there.
import type { BpfMap } from "@meridian/native";
import {
  type Addr,
  defineStruct,
  deleteBatch,
  formatAddr,
  mapEntries,
  parseAddr,
  parseCidr,
  withRollback,
  writeBatch,
} from "../../datapath/index.js";
import { openPinnedMaps } from "../../datapath/maps.js";
import { sumPerCpuSlot, zeroPerCpuSlot } from "../../datapath/percpu.js";

export const EGRESS_MAP_NAMES = [
  "mdp_egw_policy",
  "mdp_egw_gw",
  "mdp_egw_flow",
  "mdp_egw_snat",
  "mdp_egw_stats",
] as const;
export type EgressMapName = (typeof EGRESS_MAP_NAMES)[number];

export const EGW_F_EXCLUDED = 1;
/** egw_gw.mode (EGW_GW_* in bpf/lib/egress_gw.h). */
export const GW_MODE = { none: 0, remote: 1, local: 2 } as const;
export type GatewayMode = keyof typeof GW_MODE;
/** egw_gw.flags: a gateway of the policy that is not active here still translates what is steered to it. */
export const EGW_GW_F_TRANSLATE = 1;
export const SNAT_DIRECTION = { out: 0, in: 1 } as const;
/** The ports the gateway translates to (EGW_PORT_MIN/MAX). */
export const EGW_PORT_RANGE = { min: 61000, max: 65535 } as const;

/** mdp_egw_stats slots (EGW_STAT_*). */
export const EGRESS_STATS: Record<number, string> = {
  0: "steered",
  1: "local",
  2: "snat",
  3: "reverse_snat",
  4: "new_mappings",
  5: "port_retries",
  6: "excluded",
  7: "reclaimed",
  8: "no_gateway",
  9: "unreachable",
  10: "no_port",
  11: "snat_error",
};

export const egwPolicyKey = defineStruct("egw_policy_key", {
  prefixlen: "u32",
  family: "u8",
  pad: { bytes: 3 },
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
});
export const egwPolicyInfo = defineStruct("egw_policy_info", { policy_id: "u32", flags: "u32" });
export const egwGwKey = defineStruct("egw_gw_key", { policy_id: "u32", family: "u8", pad: { bytes: 3 } });
export const egwGw = defineStruct("egw_gw", {
  mode: "u32",
  flags: "u32",
  nexthop: { bytes: 16 },
  egress_ip: { bytes: 16 },
});
export const egwFlow = defineStruct("egw_flow", { policy_id: "u32", mode: "u32", nexthop: { bytes: 16 } });
export const egwSnatKey = defineStruct("egw_snat_key", {
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
  sport: "be16",
  dport: "be16",
  protocol: "u8",
  family: "u8",
  direction: "u8",
  pad: "u8",
});
export const egwSnatEntry = defineStruct("egw_snat_entry", {
  addr: { bytes: 16 },
  port: "be16",
  flags: "u16",
  policy_id: "u32",
  last_seen_ns: "u64",
});

export const egressLayouts = [
  egwPolicyKey,
  egwPolicyInfo,
  egwGwKey,
  egwGw,
  egwFlow,
  egwSnatKey,
  egwSnatEntry,
];

/** What the policy and gateway maps should hold: the agent builds it from the desired state (plan.ts). */
export interface EgressDatapathState {
  /** (pod address, destination CIDR): steered / translated, or excluded (passes untouched). */
  entries: { source: string; destination: string; policyId: number; excluded: boolean }[];
  /** Per policy and family: where its new connections go from this node. */
  gateways: {
    policyId: number;
    family: 4 | 6;
    mode: GatewayMode;
    nexthop?: string;
    egressIP?: string;
    /** This node is a gateway of the policy but not its active one here: translate what others steer to it. */
    translate?: boolean;
  }[];
}

export interface EgressSnatEntry {
  policyId: number;
  protocol: number;
  pod: string;
  podPort: number;
  remote: string;
  remotePort: number;
  egressIP: string;
  egressPort: number;
}

type Want = Map<string, { key: Buffer; value: Buffer }>;

function family(a: Addr, f: 4 | 6, what: string): Addr {
  if (a.family !== f) throw new TypeError(`${what}: IPv${a.family} address for an IPv${f} entry`);
  return a;
}

/** Encode a wanted state into map entries; throws (before anything is written) on bad input. */
export function encodeEgressState(s: EgressDatapathState): { policy: Want; gw: Want } {
  const policy: Want = new Map();
  const gw: Want = new Map();
  const put = (m: Want, key: Buffer, value: Buffer, what: string) => {
    const id = key.toString("hex");
    const have = m.get(id);
    if (have && !have.value.equals(value)) throw new Error(`${what}: two different entries for one key`);
    m.set(id, { key, value });
  };
  for (const e of s.entries) {
    const src = parseAddr(e.source);
    const dst = parseCidr(e.destination);
    if (src.family !== dst.family)
      throw new TypeError(`source ${e.source} and destination ${e.destination} are of different families`);
    put(
      policy,
      egwPolicyKey.encode({
        prefixlen: 32 + 128 + dst.prefix,
        family: dst.family,
        saddr: src.bytes,
        daddr: dst.bytes,
      }),
      egwPolicyInfo.encode({ policy_id: e.policyId, flags: e.excluded ? EGW_F_EXCLUDED : 0 }),
      `source ${e.source} destination ${e.destination}`,
    );
  }
  for (const g of s.gateways) {
    if (g.mode === "remote" && !g.nexthop)
      throw new TypeError(`policy ${g.policyId}: a remote gateway needs a next hop`);
    if ((g.mode === "local" || g.translate) && !g.egressIP)
      throw new TypeError(`policy ${g.policyId}: a local gateway needs an egress IP`);
    put(
      gw,
      egwGwKey.encode({ policy_id: g.policyId, family: g.family }),
      egwGw.encode({
        mode: GW_MODE[g.mode],
        flags: g.translate && g.mode !== "local" ? EGW_GW_F_TRANSLATE : 0,
        nexthop: g.nexthop
          ? family(parseAddr(g.nexthop), g.family, `policy ${g.policyId} next hop`).bytes
          : Buffer.alloc(16),
        egress_ip: g.egressIP
          ? family(parseAddr(g.egressIP), g.family, `policy ${g.policyId} egress IP`).bytes
          : Buffer.alloc(16),
      }),
      `policy ${g.policyId} IPv${g.family} gateway`,
    );
  }
  return { policy, gw };
}

export class EgressKernel {
  private constructor(readonly maps: Record<EgressMapName, BpfMap>) {}

  static open(pinDir: string): EgressKernel {
    return new EgressKernel(openPinnedMaps(pinDir, EGRESS_MAP_NAMES));
  }

  /**
   * Make the policy and gateway maps exactly `s`, all or nothing. Gateways are written before the
   * entries that refer to them, so a new entry never matches a policy without its gateway (which
   * the datapath would take for "no gateway" and drop); removals go the other way round. Flow pins
   * and translations of policies no longer in `s` are removed after.
   */
  apply(s: EgressDatapathState): { written: number; removed: number } {
    const want = encodeEgressState(s);
    const order: [EgressMapName, Want][] = [
      ["mdp_egw_gw", want.gw],
      ["mdp_egw_policy", want.policy],
    ];
    let written = 0;
    let removed = 0;
    withRollback(
      this,
      order.map(([n]) => n),
      () => {
        const before = new Map(
          order.map(([n]) => [n, new Map(mapEntries(this.maps[n]).map(([k, v]) => [k.toString("hex"), v]))]),
        );
        for (const [n, w] of order) {
          const have = before.get(n)!;
          const changed = [...w.values()].filter((e) => !have.get(e.key.toString("hex"))?.equals(e.value));
          writeBatch(
            this.maps[n],
            changed.map((e) => e.key),
            changed.map((e) => e.value),
          );
          written += changed.length;
        }
        for (const [n, w] of [...order].reverse()) {
          const stale = [...before.get(n)!.keys()]
            .filter((id) => !w.has(id))
            .map((id) => Buffer.from(id, "hex"));
          deleteBatch(this.maps[n], stale);
          removed += stale.length;
        }
      },
    );
    const live = new Set(s.gateways.map((g) => g.policyId));
    this.forgetPolicies(live);
    return { written, removed };
  }

  /** Remove flow pins and translations whose policy is not in `live`. */
  private forgetPolicies(live: Set<number>): void {
    const goneFlows = mapEntries(this.maps.mdp_egw_flow)
      .filter(([, v]) => !live.has(egwFlow.decode(v).policy_id))
      .map(([k]) => Buffer.from(k));
    deleteBatch(this.maps.mdp_egw_flow, goneFlows);
    const goneSnat = mapEntries(this.maps.mdp_egw_snat)
      .filter(([, v]) => !live.has(egwSnatEntry.decode(v).policy_id))
      .map(([k]) => Buffer.from(k));
    deleteBatch(this.maps.mdp_egw_snat, goneSnat);
  }

  /** The policy and gateway maps, decoded (for `meridian-agent egress` and tests). */
  read(): EgressDatapathState {
    const fam = (f: number) => (f === 4 ? 4 : 6) as 4 | 6;
    const modeName = Object.fromEntries(Object.entries(GW_MODE).map(([k, v]) => [v, k])) as Record<
      number,
      GatewayMode
    >;
    const isZero = (b: Buffer) => b.equals(Buffer.alloc(16));
    return {
      entries: mapEntries(this.maps.mdp_egw_policy).map(([k, v]) => {
        const key = egwPolicyKey.decode(k);
        const info = egwPolicyInfo.decode(v);
        const f = fam(key.family);
        return {
          source: formatAddr(f, Buffer.from(key.saddr)),
          destination: `${formatAddr(f, Buffer.from(key.daddr))}/${key.prefixlen - 160}`,
          policyId: info.policy_id,
          excluded: (info.flags & EGW_F_EXCLUDED) !== 0,
        };
      }),
      gateways: mapEntries(this.maps.mdp_egw_gw).map(([k, v]) => {
        const key = egwGwKey.decode(k);
        const g = egwGw.decode(v);
        const f = fam(key.family);
        const nh = Buffer.from(g.nexthop);
        const eg = Buffer.from(g.egress_ip);
        return {
          policyId: key.policy_id,
          family: f,
          mode: modeName[g.mode] ?? "none",
          ...(isZero(nh) ? {} : { nexthop: formatAddr(f, nh) }),
          ...(isZero(eg) ? {} : { egressIP: formatAddr(f, eg) }),
          ...(g.flags & EGW_GW_F_TRANSLATE ? { translate: true } : {}),
        };
      }),
    };
  }

  /** The translations this node holds (one per connection: the forward entries). */
  snatEntries(): EgressSnatEntry[] {
    const out: EgressSnatEntry[] = [];
    for (const [k, v] of mapEntries(this.maps.mdp_egw_snat)) {
      const key = egwSnatKey.decode(k);
      if (key.direction !== SNAT_DIRECTION.out) continue;
      const e = egwSnatEntry.decode(v);
      const f = key.family === 4 ? 4 : 6;
      out.push({
        policyId: e.policy_id,
        protocol: key.protocol,
        pod: formatAddr(f, Buffer.from(key.saddr)),
        podPort: key.sport,
        remote: formatAddr(f, Buffer.from(key.daddr)),
        remotePort: key.dport,
        egressIP: formatAddr(f, Buffer.from(e.addr)),
        egressPort: e.port,
      });
    }
    return out;
  }

  /** Counters summed over CPUs, by name. */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [idx, name] of Object.entries(EGRESS_STATS))
      out[name] = Number(sumPerCpuSlot(this.maps.mdp_egw_stats, Number(idx)).packets);
    return out;
  }

  /** Zero the counters and drop every flow pin and translation (tests). */
  reset(): void {
    for (const idx of Object.keys(EGRESS_STATS)) zeroPerCpuSlot(this.maps.mdp_egw_stats, Number(idx));
    this.forgetPolicies(new Set());
  }

  close(): void {
    for (const m of Object.values(this.maps)) m.close();
  }
}
