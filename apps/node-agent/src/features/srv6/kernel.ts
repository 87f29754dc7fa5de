// The SRv6 feature's kernel side: its maps (bpf/lib/srv6.h), opened by their pins under the node's
// pin directory, their byte layouts, and the one write that makes them a wanted state, all or
// nothing: every entry is encoded (and checked) before the first write, and a failed write puts
// back what the maps held before.
import type { BpfMap } from "@meridian/native";
import {
  type Addr,
  defineStruct,
  deleteBatch,
  formatAddr,
  mapEntries,
  parseAddr,
  parseCidr,
} from "../../datapath/index.js";
import { openPinnedMaps } from "../../datapath/maps.js";
import { sumPerCpuSlot, zeroPerCpuSlot } from "../../datapath/percpu.js";

export const SRV6_MAX_SEGS = 4;
export const SRV6_MAP_NAMES = [
  "mdp_srv6_vrf",
  "mdp_srv6_policy",
  "mdp_srv6_sid",
  "mdp_srv6_vrfep",
  "mdp_srv6_cfg",
  "mdp_srv6_stats",
] as const;
export type Srv6MapName = (typeof SRV6_MAP_NAMES)[number];

export const MODE = { HEncaps: 0, HEncapsRed: 1 } as const;
export const BEHAVIOR = { "End.DT4": 1, "End.DT6": 2, "End.DT46": 3 } as const;
export type Behavior = keyof typeof BEHAVIOR;
export const VRF_F_STRICT = 1;
/** srv6_policy.source: where a datapath policy came from. */
export const POLICY_SOURCE = { static: 1, bgp: 2 } as const;

/** mdp_srv6_stats slots (SRV6_STAT_* in bpf/lib/srv6.h). */
export const SRV6_STATS: Record<number, string> = {
  0: "encapsulated",
  1: "decapsulated",
  2: "transit",
  8: "no_policy",
  9: "oversize",
  10: "hop_limit",
  11: "encap_error",
  12: "no_vrf_match",
  13: "bad_srh",
  14: "segments_left",
  15: "bad_inner",
};

export const srv6VrfKey = defineStruct("srv6_vrf_key", {
  prefixlen: "u32",
  ifindex: "u32",
  family: "u8",
  pad: { bytes: 3 },
  addr: { bytes: 16 },
});
export const srv6VrfInfo = defineStruct("srv6_vrf_info", { vrf_id: "u32", flags: "u32" });
export const srv6PolicyKey = defineStruct("srv6_policy_key", {
  prefixlen: "u32",
  vrf_id: "u32",
  family: "u8",
  pad: { bytes: 3 },
  addr: { bytes: 16 },
});
export const srv6Policy = defineStruct("srv6_policy", {
  nsegs: "u8",
  mode: "u8",
  pad: "u16",
  source: "u32",
  segs: { bytes: 16 * SRV6_MAX_SEGS },
});
export const srv6SidKey = defineStruct("srv6_sid_key", { sid: { bytes: 16 } });
export const srv6SidInfo = defineStruct("srv6_sid_info", {
  vrf_id: "u32",
  behavior: "u8",
  pad: { bytes: 3 },
});
export const srv6VrfepKey = defineStruct("srv6_vrfep_key", {
  vrf_id: "u32",
  family: "u8",
  pad: { bytes: 3 },
  addr: { bytes: 16 },
});
export const srv6Vrfep = defineStruct("srv6_vrfep", {
  ifindex: "u32",
  mac: { bytes: 6 },
  hmac: { bytes: 6 },
});
export const srv6Cfg = defineStruct("srv6_cfg", { src: { bytes: 16 }, mtu: "u32", flags: "u32" });

export const srv6Layouts = [
  srv6VrfKey,
  srv6VrfInfo,
  srv6PolicyKey,
  srv6Policy,
  srv6SidKey,
  srv6SidInfo,
  srv6VrfepKey,
  srv6Vrfep,
  srv6Cfg,
];

/** What the datapath should hold: the agent builds it from the desired state and BGP. */
export interface Srv6DatapathState {
  /** The node's SRv6 source address (outer source of what it encapsulates). */
  source: string | null;
  /** Uplink MTU (L3) for the oversize check; 0: none. */
  mtu: number;
  /** Member pods: the pod's host veth, the destinations in the VRF ("0.0.0.0/0", "::/0": all). */
  members: {
    vrfId: number;
    ifindex: number;
    address: string;
    destinations: string[];
    strict?: boolean;
    mac?: string;
    hostMac?: string;
  }[];
  policies: {
    vrfId: number;
    destination: string;
    segments: string[];
    mode: keyof typeof MODE;
    source: keyof typeof POLICY_SOURCE;
  }[];
  sids: { sid: string; vrfId: number; behavior: Behavior }[];
}

export interface Srv6ApplyResult {
  written: number;
  removed: number;
}

function macBytes(m: string | undefined): Buffer {
  if (!m) return Buffer.alloc(6);
  const parts = m.split(":").map((x) => Number.parseInt(x, 16));
  if (parts.length !== 6 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255))
    throw new TypeError(`not a MAC address: ${m}`);
  return Buffer.from(parts);
}

function v6(addr: string, what: string): Addr {
  const a = parseAddr(addr);
  if (a.family !== 6) throw new TypeError(`${what} ${addr} is not an IPv6 address`);
  return a;
}

type Want = Map<string, { key: Buffer; value: Buffer }>;

/** Encode a wanted state into map entries; throws (before anything is written) on bad input. */
export function encodeState(s: Srv6DatapathState): Record<"vrf" | "policy" | "sid" | "vrfep", Want> {
  const out = { vrf: new Map(), policy: new Map(), sid: new Map(), vrfep: new Map() } as Record<
    "vrf" | "policy" | "sid" | "vrfep",
    Want
  >;
  const put = (m: Want, key: Buffer, value: Buffer, what: string) => {
    const id = key.toString("hex");
    const have = m.get(id);
    if (have && !have.value.equals(value)) throw new Error(`${what}: two different entries for one key`);
    m.set(id, { key, value });
  };
  for (const mem of s.members) {
    const a = parseAddr(mem.address);
    const value = srv6Vrfep.encode({
      ifindex: mem.ifindex,
      mac: macBytes(mem.mac),
      hmac: macBytes(mem.hostMac),
    });
    put(
      out.vrfep,
      srv6VrfepKey.encode({ vrf_id: mem.vrfId, family: a.family, addr: a.bytes }),
      value,
      `VRF ${mem.vrfId} member ${mem.address}`,
    );
    for (const d of mem.destinations) {
      const c = parseCidr(d);
      put(
        out.vrf,
        srv6VrfKey.encode({
          prefixlen: 64 + c.prefix,
          ifindex: mem.ifindex,
          family: c.family,
          addr: c.bytes,
        }),
        srv6VrfInfo.encode({ vrf_id: mem.vrfId, flags: mem.strict ? VRF_F_STRICT : 0 }),
        `member ${mem.address} (ifindex ${mem.ifindex}) destination ${d}`,
      );
    }
  }
  for (const p of s.policies) {
    if (p.segments.length === 0 || p.segments.length > SRV6_MAX_SEGS)
      throw new RangeError(
        `policy VRF ${p.vrfId} ${p.destination}: ${p.segments.length} segments (the datapath takes 1 to ${SRV6_MAX_SEGS})`,
      );
    const segs = Buffer.alloc(16 * SRV6_MAX_SEGS);
    p.segments.forEach((sid, i) => {
      v6(sid, "segment").bytes.copy(segs, 16 * i);
    });
    const c = parseCidr(p.destination);
    put(
      out.policy,
      srv6PolicyKey.encode({ prefixlen: 64 + c.prefix, vrf_id: p.vrfId, family: c.family, addr: c.bytes }),
      srv6Policy.encode({
        nsegs: p.segments.length,
        mode: MODE[p.mode],
        source: POLICY_SOURCE[p.source],
        segs,
      }),
      `policy VRF ${p.vrfId} ${p.destination}`,
    );
  }
  for (const sid of s.sids) {
    put(
      out.sid,
      srv6SidKey.encode({ sid: v6(sid.sid, "SID").bytes }),
      srv6SidInfo.encode({ vrf_id: sid.vrfId, behavior: BEHAVIOR[sid.behavior] }),
      `SID ${sid.sid}`,
    );
  }
  return out;
}

export interface Srv6Counter {
  name: string;
  packets: bigint;
  bytes: bigint;
}

export class Srv6Kernel {
  private constructor(private readonly maps: Record<Srv6MapName, BpfMap>) {}

  static open(pinDir: string): Srv6Kernel {
    return new Srv6Kernel(openPinnedMaps(pinDir, SRV6_MAP_NAMES));
  }

  /**
   * Make the maps exactly `s`. All or nothing: a bad entry throws before any write; a write that
   * fails restores every map to what it held before, and rethrows.
   */
  apply(s: Srv6DatapathState): Srv6ApplyResult {
    const want = encodeState(s);
    const cfg = srv6Cfg.encode({
      src: s.source ? v6(s.source, "source").bytes : Buffer.alloc(16),
      mtu: s.mtu,
    });
    const pairs: [BpfMap, Want][] = [
      [this.maps.mdp_srv6_sid, want.sid],
      [this.maps.mdp_srv6_vrfep, want.vrfep],
      [this.maps.mdp_srv6_policy, want.policy],
      [this.maps.mdp_srv6_vrf, want.vrf],
    ];
    const zero = Buffer.alloc(4);
    const before = pairs.map(([m]) =>
      mapEntries(m).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const),
    );
    const cfgBefore = this.maps.mdp_srv6_cfg.lookup(zero);
    let written = 0;
    let removed = 0;
    try {
      this.maps.mdp_srv6_cfg.update(zero, cfg);
      // Targets before the entries that point at them: SIDs and members, then policies, then VRF
      // membership (which turns encapsulation on); removals after, in the same order.
      for (const [i, [m, w]] of pairs.entries()) {
        const have = new Map(before[i]!.map(([k, v]) => [k.toString("hex"), v]));
        for (const [id, e] of w) {
          if (have.get(id)?.equals(e.value)) continue;
          m.update(e.key, e.value);
          written++;
        }
      }
      for (const [i, [m, w]] of pairs.entries()) {
        const stale = before[i]!.filter(([k]) => !w.has(k.toString("hex"))).map(([k]) => k);
        deleteBatch(m, stale);
        removed += stale.length;
      }
    } catch (err) {
      for (const [i, [m]] of pairs.entries()) {
        const keep = new Set(before[i]!.map(([k]) => k.toString("hex")));
        deleteBatch(
          m,
          mapEntries(m)
            .map(([k]) => Buffer.from(k))
            .filter((k) => !keep.has(k.toString("hex"))),
        );
        for (const [k, v] of before[i]!) m.update(k, v);
      }
      if (cfgBefore) this.maps.mdp_srv6_cfg.update(zero, cfgBefore);
      throw err;
    }
    return { written, removed };
  }

  /** What the maps hold, decoded (for status and the CLI). */
  read(): {
    source: string | null;
    mtu: number;
    sids: { sid: string; vrfId: number; behavior: string }[];
    members: { vrfId: number; address: string; ifindex: number }[];
    vrfEntries: { ifindex: number; destination: string; vrfId: number; strict: boolean }[];
    policies: { vrfId: number; destination: string; segments: string[]; mode: string; source: string }[];
  } {
    const cfgRaw = this.maps.mdp_srv6_cfg.lookup(Buffer.alloc(4));
    const cfg = cfgRaw ? srv6Cfg.decode(cfgRaw) : null;
    const src = cfg && !cfg.src.equals(Buffer.alloc(16)) ? formatAddr(6, Buffer.from(cfg.src)) : null;
    const behaviorName = Object.fromEntries(Object.entries(BEHAVIOR).map(([k, v]) => [v, k]));
    const modeName = Object.fromEntries(Object.entries(MODE).map(([k, v]) => [v, k]));
    const sourceName = Object.fromEntries(Object.entries(POLICY_SOURCE).map(([k, v]) => [v, k]));
    const fam = (f: number) => (f === 4 ? 4 : 6) as 4 | 6;
    return {
      source: src,
      mtu: cfg?.mtu ?? 0,
      sids: mapEntries(this.maps.mdp_srv6_sid).map(([k, v]) => {
        const i = srv6SidInfo.decode(v);
        return {
          sid: formatAddr(6, Buffer.from(srv6SidKey.decode(k).sid)),
          vrfId: i.vrf_id,
          behavior: behaviorName[i.behavior] ?? `unknown(${i.behavior})`,
        };
      }),
      members: mapEntries(this.maps.mdp_srv6_vrfep).map(([k, v]) => {
        const key = srv6VrfepKey.decode(k);
        return {
          vrfId: key.vrf_id,
          address: formatAddr(fam(key.family), Buffer.from(key.addr)),
          ifindex: srv6Vrfep.decode(v).ifindex,
        };
      }),
      vrfEntries: mapEntries(this.maps.mdp_srv6_vrf).map(([k, v]) => {
        const key = srv6VrfKey.decode(k);
        const i = srv6VrfInfo.decode(v);
        return {
          ifindex: key.ifindex,
          destination: `${formatAddr(fam(key.family), Buffer.from(key.addr))}/${key.prefixlen - 64}`,
          vrfId: i.vrf_id,
          strict: (i.flags & VRF_F_STRICT) !== 0,
        };
      }),
      policies: mapEntries(this.maps.mdp_srv6_policy).map(([k, v]) => {
        const key = srv6PolicyKey.decode(k);
        const p = srv6Policy.decode(v);
        const segs: string[] = [];
        for (let i = 0; i < p.nsegs && i < SRV6_MAX_SEGS; i++)
          segs.push(formatAddr(6, Buffer.from(p.segs.subarray(16 * i, 16 * i + 16))));
        return {
          vrfId: key.vrf_id,
          destination: `${formatAddr(fam(key.family), Buffer.from(key.addr))}/${key.prefixlen - 64}`,
          segments: segs,
          mode: modeName[p.mode] ?? `unknown(${p.mode})`,
          source: sourceName[p.source] ?? "unknown",
        };
      }),
    };
  }

  /** SRv6 counters summed over CPUs. */
  counters(): Srv6Counter[] {
    return Object.entries(SRV6_STATS).map(([idx, name]) => ({
      name,
      ...sumPerCpuSlot(this.maps.mdp_srv6_stats, Number(idx)),
    }));
  }

  resetCounters(): void {
    for (const idx of Object.keys(SRV6_STATS)) zeroPerCpuSlot(this.maps.mdp_srv6_stats, Number(idx));
  }

  close(): void {
    for (const m of Object.values(this.maps)) m.close();
  }
}
