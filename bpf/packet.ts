// Packet builder for BPF_PROG_TEST_RUN tests and benchmarks (the PKTGEN step).
// Builds Ethernet + IPv4/IPv6 + TCP/UDP/ICMP frames with valid lengths and IPv4
// header checksum; L4 checksums are left zero (tc programs here do not verify them).
import { isIPv4, isIPv6 } from "node:net";

export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface PacketSpec {
  src: string;
  dst: string;
  protocol: "tcp" | "udp" | "icmp" | number;
  sport?: number;
  dport?: number;
  /** TCP flags, default SYN. */
  flags?: number;
  /** ICMP type/code (ICMPv6 when the addresses are IPv6). Default echo request. */
  icmpType?: number;
  icmpCode?: number;
  payload?: Buffer;
  srcMac?: string;
  dstMac?: string;
}

export function ipBytes(addr: string): Buffer {
  if (isIPv4(addr)) return Buffer.from(addr.split(".").map(Number));
  if (!isIPv6(addr)) throw new TypeError(`not an IP address: ${addr}`);
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
  const h = head ? head.split(":").filter(Boolean) : [];
  const t = tail ? tail.split(":").filter(Boolean) : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

function mac(s: string | undefined, dflt: string): Buffer {
  return Buffer.from((s ?? dflt).split(":").map((x) => Number.parseInt(x, 16)));
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += (b[b.length - 1] ?? 0) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function l4(spec: PacketSpec, v6: boolean): { proto: number; bytes: Buffer } {
  const payload = spec.payload ?? Buffer.alloc(0);
  const p = spec.protocol;
  if (p === "tcp") {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(spec.sport ?? 40000, 0);
    h.writeUInt16BE(spec.dport ?? 80, 2);
    h.writeUInt32BE(1, 4);
    h[12] = 5 << 4;
    h[13] = spec.flags ?? TCP_FLAGS.SYN;
    h.writeUInt16BE(65535, 14);
    return { proto: PROTO.TCP, bytes: Buffer.concat([h, payload]) };
  }
  if (p === "udp") {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(spec.sport ?? 40000, 0);
    h.writeUInt16BE(spec.dport ?? 53, 2);
    h.writeUInt16BE(8 + payload.length, 4);
    return { proto: PROTO.UDP, bytes: Buffer.concat([h, payload]) };
  }
  if (p === "icmp") {
    const h = Buffer.alloc(8);
    h[0] = spec.icmpType ?? (v6 ? 128 : 8);
    h[1] = spec.icmpCode ?? 0;
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(1, 6);
    return { proto: v6 ? PROTO.ICMPV6 : PROTO.ICMP, bytes: Buffer.concat([h, payload]) };
  }
  return { proto: p, bytes: payload };
}

/** A complete Ethernet frame. */
export function buildPacket(spec: PacketSpec): Buffer {
  const v6 = isIPv6(spec.src);
  if (v6 !== isIPv6(spec.dst)) throw new TypeError("src and dst must be the same family");
  const { proto, bytes } = l4(spec, v6);
  const eth = Buffer.alloc(14);
  mac(spec.dstMac, "02:00:00:00:00:02").copy(eth, 0);
  mac(spec.srcMac, "02:00:00:00:00:01").copy(eth, 6);
  eth.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  let ip: Buffer;
  if (v6) {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(bytes.length, 4);
    ip[6] = proto;
    ip[7] = 64;
    ipBytes(spec.src).copy(ip, 8);
    ipBytes(spec.dst).copy(ip, 24);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + bytes.length, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = proto;
    ipBytes(spec.src).copy(ip, 12);
    ipBytes(spec.dst).copy(ip, 16);
    ip.writeUInt16BE(checksum(ip), 10);
  }
  return Buffer.concat([eth, ip, bytes]);
}

/** Offsets of the headers inside a frame from buildPacket (no IP options / extension headers). */
export const OFFSET = { ETH_TYPE: 12, L3: 14, L4_V4: 34, L4_V6: 54 } as const;

/**
 * The L4 checksum of a frame from buildPacket (TCP, UDP, ICMP, ICMPv6; pseudo-header where the
 * protocol has one), as it should be: 0 in the checksum field is taken as the field's value.
 */
export function l4Checksum(frame: Buffer): number {
  const v6 = frame.readUInt16BE(OFFSET.ETH_TYPE) === 0x86dd;
  const l4off = v6 ? OFFSET.L4_V6 : OFFSET.L3 + ((frame[OFFSET.L3] ?? 0) & 0x0f) * 4;
  const proto = v6 ? (frame[OFFSET.L3 + 6] ?? 0) : (frame[OFFSET.L3 + 9] ?? 0);
  const seg = Buffer.from(frame.subarray(l4off));
  const csumAt = proto === PROTO.TCP ? 16 : proto === PROTO.UDP ? 6 : 2;
  seg.writeUInt16BE(0, csumAt);
  let pseudo = Buffer.alloc(0);
  if (proto !== PROTO.ICMP) {
    const addrs = v6
      ? frame.subarray(OFFSET.L3 + 8, OFFSET.L3 + 40)
      : frame.subarray(OFFSET.L3 + 12, OFFSET.L3 + 20);
    const tail = Buffer.alloc(v6 ? 8 : 4);
    if (v6) {
      tail.writeUInt32BE(seg.length, 0);
      tail[7] = proto;
    } else {
      tail[1] = proto;
      tail.writeUInt16BE(seg.length, 2);
    }
    pseudo = Buffer.concat([addrs, tail]);
  }
  const sum = checksum(Buffer.concat([pseudo, seg]));
  // UDP sends a computed 0 as 0xffff (0 means "no checksum").
  return proto === PROTO.UDP && sum === 0 ? 0xffff : sum;
}

/** Where the L4 checksum of a frame from buildPacket sits. */
export function l4ChecksumOffset(frame: Buffer): number {
  const v6 = frame.readUInt16BE(OFFSET.ETH_TYPE) === 0x86dd;
  const l4off = v6 ? OFFSET.L4_V6 : OFFSET.L3 + ((frame[OFFSET.L3] ?? 0) & 0x0f) * 4;
  const proto = v6 ? (frame[OFFSET.L3 + 6] ?? 0) : (frame[OFFSET.L3 + 9] ?? 0);
  return l4off + (proto === PROTO.TCP ? 16 : proto === PROTO.UDP ? 6 : 2);
}

/** The frame with its L4 checksum filled in (buildPacket leaves it 0). */
export function withL4Checksum(frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  out.writeUInt16BE(l4Checksum(out), l4ChecksumOffset(out));
  return out;
}

/** Whether the IPv4 header checksum of a frame holds (true for IPv6, which has none). */
export function ipv4HeaderValid(frame: Buffer): boolean {
  if (frame.readUInt16BE(OFFSET.ETH_TYPE) !== 0x0800) return true;
  const ihl = ((frame[OFFSET.L3] ?? 0) & 0x0f) * 4;
  return checksum(frame.subarray(OFFSET.L3, OFFSET.L3 + ihl)) === 0;
}
