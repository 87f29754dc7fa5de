// Byte layouts of the datapath's map keys, values and events: bpf/lib/types.h, described
// once more here. Offsets follow C's natural alignment; layout.test.ts checks every size
// and offset against the BTF of the built objects, so the two cannot drift apart.
import { isIPv4, isIPv6 } from "node:net";

export type FieldType = "u8" | "u16" | "u32" | "u64" | "be16" | { bytes: number };
export type FieldValue<T extends FieldType> = T extends "u64"
  ? bigint
  : T extends { bytes: number }
    ? Buffer
    : number;
export type Fields = Record<string, FieldType>;
export type Decoded<F extends Fields> = { [K in keyof F]: FieldValue<F[K]> };

export interface FieldLayout {
  name: string;
  type: FieldType;
  offset: number;
  size: number;
}

export interface StructLayout<F extends Fields> {
  /** The C struct name in bpf/lib/types.h. */
  cName: string;
  size: number;
  fields: FieldLayout[];
  /** Missing fields are written as zero. */
  encode(value: Partial<Decoded<F>>, into?: Buffer, at?: number): Buffer;
  decode(buf: Buffer, at?: number): Decoded<F>;
}

function sizeOf(t: FieldType): number {
  if (typeof t === "object") return t.bytes;
  return { u8: 1, u16: 2, be16: 2, u32: 4, u64: 8 }[t];
}
function alignOf(t: FieldType): number {
  return typeof t === "object" ? 1 : sizeOf(t);
}

export function defineStruct<F extends Fields>(cName: string, fields: F): StructLayout<F> {
  const layout: FieldLayout[] = [];
  let off = 0;
  let maxAlign = 1;
  for (const [name, type] of Object.entries(fields)) {
    const a = alignOf(type);
    maxAlign = Math.max(maxAlign, a);
    off = Math.ceil(off / a) * a;
    layout.push({ name, type, offset: off, size: sizeOf(type) });
    off += sizeOf(type);
  }
  const size = Math.ceil(off / maxAlign) * maxAlign;

  function encode(value: Partial<Decoded<F>>, into?: Buffer, at = 0): Buffer {
    // allocUnsafe draws small buffers from Node's pool (much cheaper than alloc); zeroed here.
    const buf = into ?? Buffer.allocUnsafe(size);
    buf.fill(0, at, at + size);
    const v = value as Record<string, unknown>;
    for (const f of layout) {
      const x = v[f.name];
      if (x === undefined) continue;
      const o = at + f.offset;
      switch (f.type) {
        case "u8":
          buf.writeUInt8(x as number, o);
          break;
        case "u16":
          buf.writeUInt16LE(x as number, o);
          break;
        case "be16":
          buf.writeUInt16BE(x as number, o);
          break;
        case "u32":
          buf.writeUInt32LE(x as number, o);
          break;
        case "u64":
          buf.writeBigUInt64LE(BigInt(x as bigint | number), o);
          break;
        default: {
          const b = x as Buffer;
          if (b.length > f.size) throw new RangeError(`${cName}.${f.name}: ${b.length} bytes > ${f.size}`);
          b.copy(buf, o);
        }
      }
    }
    return buf;
  }

  function decode(buf: Buffer, at = 0): Decoded<F> {
    if (buf.length < at + size) throw new RangeError(`${cName}: need ${size} bytes, have ${buf.length - at}`);
    const out: Record<string, unknown> = {};
    for (const f of layout) {
      const o = at + f.offset;
      switch (f.type) {
        case "u8":
          out[f.name] = buf.readUInt8(o);
          break;
        case "u16":
          out[f.name] = buf.readUInt16LE(o);
          break;
        case "be16":
          out[f.name] = buf.readUInt16BE(o);
          break;
        case "u32":
          out[f.name] = buf.readUInt32LE(o);
          break;
        case "u64":
          out[f.name] = buf.readBigUInt64LE(o);
          break;
        default:
          out[f.name] = Buffer.from(buf.subarray(o, o + f.size));
      }
    }
    return out as Decoded<F>;
  }

  return { cName, size, fields: layout, encode, decode };
}

// ---- constants: mirror bpf/lib/types.h ----

export const AF = { INET: 4, INET6: 6 } as const;
/** ENFORCEMENT: the reserved remote identity of an endpoint's enforcement marker (bpf/lib/policy.h). */
export const IDENTITY = { ANY: 0, HOST: 1, WORLD: 2, ENFORCEMENT: 0xffffffff } as const;
export const POINT = { FROM_POD: 0, TO_POD: 1, FROM_NET: 2, TO_NET: 3 } as const;
export const POINT_MAX = 4;
export const POINT_NAMES = ["from_pod", "to_pod", "from_net", "to_net"] as const;
export const DIRECTION = { INGRESS: 0, EGRESS: 1 } as const;
export const EP_FLAGS = {
  POLICY_INGRESS: 1 << 0,
  POLICY_EGRESS: 1 << 1,
  // Bits 2-4 are kept for DNS redirect, egress gateway and SRv6 (bpf/lib/types.h); none uses them yet.
} as const;
export const VERDICT = { ALLOW: 1, DENY: 2 } as const;
/** ct_entry.flags: a flow a policy change no longer allows (and whether an explicit deny said so). */
export const CT_FLAGS = { REVOKED: 1, DENIED: 2 } as const;
export const EVENT_VERDICT = { FORWARDED: 1, DROPPED: 2, REDIRECTED: 3 } as const;
export const REASON = {
  FORWARDED: 0,
  POLICY_DEFAULT: 1,
  POLICY_DENY: 2,
  INVALID_ETH: 3,
  INVALID_IPV4: 4,
  INVALID_IPV6: 5,
  TRUNCATED_L4: 6,
  FRAG_UNSUPPORTED: 7,
  EXTHDR_LIMIT: 8,
  INVALID_TCP: 9,
  INVALID_SOURCE: 10,
  // SRv6 (bpf/lib/srv6.h): a range of its own.
  SRV6_NO_POLICY: 40,
  SRV6_OVERSIZE: 41,
  SRV6_HOP_LIMIT: 42,
  SRV6_ENCAP: 43,
  SRV6_NO_VRF_MATCH: 44,
  SRV6_BAD_SRH: 45,
  SRV6_SEGLEFT: 46,
  SRV6_BAD_INNER: 47,
  // Egress gateway (bpf/lib/egress_gw.h).
  EGRESS_NO_GATEWAY: 48,
  EGRESS_UNREACHABLE: 49,
  EGRESS_NO_PORT: 50,
  EGRESS_SNAT: 51,
  EVENTS_SUPPRESSED: 61,
  REDIRECTED: 62,
  EVENTS_LOST: 63,
} as const;
export const REASON_MAX = 64;
export const REASON_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(REASON).map(([k, v]) => [v, k.toLowerCase()]),
);
export const POLICY_PREFIX = { FULL: 96, PROTO: 80, L3: 72 } as const;

// ---- structs ----

export const endpointKey = defineStruct("endpoint_key", {
  addr: { bytes: 16 },
  family: "u8",
  pad: { bytes: 3 },
});
export const endpointInfo = defineStruct("endpoint_info", {
  ep_id: "u32",
  identity: "u32",
  ifindex: "u32",
  flags: "u32",
});
export const ipcacheKey = defineStruct("ipcache_key", {
  prefixlen: "u32",
  family: "u8",
  pad: { bytes: 3 },
  addr: { bytes: 16 },
});
export const ipcacheInfo = defineStruct("ipcache_info", { identity: "u32", flags: "u32" });
export const policyKey = defineStruct("policy_key", {
  prefixlen: "u32",
  ep_id: "u32",
  identity: "u32",
  direction: "u8",
  protocol: "u8",
  dport: "be16",
});
export const policyEntry = defineStruct("policy_entry", {
  rule_id: "u32",
  verdict: "u8",
  flags: "u8",
  pad: "u16",
});
export const ctKey = defineStruct("ct_key", {
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
  sport: "be16",
  dport: "be16",
  protocol: "u8",
  family: "u8",
  direction: "u8",
  pad: "u8",
});
export const ctEntry = defineStruct("ct_entry", {
  last_seen_ns: "u64",
  packets: "u64",
  bytes: "u64",
  rule_id: "u32",
  flags: "u32",
});
export const counter = defineStruct("counter", { packets: "u64", bytes: "u64" });
export const flowEvent = defineStruct("flow_event", {
  ts_ns: "u64",
  ep_id: "u32",
  src_identity: "u32",
  dst_identity: "u32",
  rule_id: "u32",
  bytes: "u32",
  ifindex: "u32",
  reason: "u16",
  verdict: "u8",
  point: "u8",
  family: "u8",
  protocol: "u8",
  sport: "be16",
  dport: "be16",
  pad: "u16",
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
  suppressed: "u32",
});

/** Every layout, for the BTF check. */
export const allLayouts: StructLayout<Fields>[] = [
  endpointKey,
  endpointInfo,
  ipcacheKey,
  ipcacheInfo,
  policyKey,
  policyEntry,
  ctKey,
  ctEntry,
  counter,
  flowEvent,
] as unknown as StructLayout<Fields>[];

// ---- addresses ----

export interface Addr {
  family: 4 | 6;
  /** 16 bytes; IPv4 in the first 4. */
  bytes: Buffer;
}

export function parseAddr(ip: string): Addr {
  const bytes = Buffer.alloc(16);
  if (isIPv4(ip)) {
    ip.split(".").forEach((o, i) => {
      bytes[i] = Number(o);
    });
    return { family: 4, bytes };
  }
  if (!isIPv6(ip)) throw new TypeError(`not an IP address: ${ip}`);
  let s = ip;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  // Embedded IPv4 tail (::ffff:1.2.3.4).
  const v4tail = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4tail?.[1]) {
    const o = v4tail[1].split(".").map(Number);
    s = `${s.slice(0, -v4tail[1].length)}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? (s.split("::") as [string, string]) : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  groups.forEach((g, i) => {
    bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return { family: 6, bytes };
}

export function formatAddr(family: number, bytes: Buffer): string {
  if (family === AF.INET) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

export interface Cidr extends Addr {
  prefix: number;
}

export function parseCidr(cidr: string): Cidr {
  const [ip, len] = cidr.split("/");
  const a = parseAddr(ip ?? "");
  const max = a.family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
    throw new TypeError(`bad prefix length in ${cidr}`);
  // Zero host bits so equal prefixes give equal keys.
  for (let bit = prefix; bit < 128; bit++) {
    const byte = bit >> 3;
    a.bytes[byte] = (a.bytes[byte] ?? 0) & ~(0x80 >> (bit & 7)) & 0xff;
  }
  return { ...a, prefix };
}
