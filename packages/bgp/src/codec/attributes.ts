import { DecodeError, type ErrorAction } from "./errors.js";
import { afiSafi, type Family, familyOf, isV6, isVpn } from "./families.js";
import { ipv4ToString, ipv6ToString, isIpv6, parseIpv4, parseIpv6 } from "./ip.js";
import { decodeNlriList, encodeNlri, type Nlri, nlriEncodingLength } from "./nlri.js";
import { decodePrefixSid, encodePrefixSid, type PrefixSid, prefixSidEncodingLength } from "./prefix-sid.js";
import { Reader } from "./reader.js";

export const AttrType = {
  Origin: 1,
  AsPath: 2,
  NextHop: 3,
  Med: 4,
  LocalPref: 5,
  AtomicAggregate: 6,
  Aggregator: 7,
  Communities: 8,
  OriginatorId: 9,
  ClusterList: 10,
  MpReach: 14,
  MpUnreach: 15,
  ExtendedCommunities: 16,
  As4Path: 17,
  As4Aggregator: 18,
  LargeCommunities: 32,
  PrefixSid: 40,
} as const;

export const AttrFlag = { Optional: 0x80, Transitive: 0x40, Partial: 0x20, ExtendedLength: 0x10 } as const;

export const Origin = { Igp: 0, Egp: 1, Incomplete: 2 } as const;
export const AsSegment = { Set: 1, Sequence: 2, ConfedSequence: 3, ConfedSet: 4 } as const;
export const AS_TRANS = 23456;

export interface AsPathSegment {
  type: number;
  asns: number[];
}

export interface Aggregator {
  asn: number;
  address: string;
}

export interface MpReach {
  family: Family;
  /** Global next hop first, then an optional IPv6 link-local; IPv4 or IPv6 per RFC 8950. */
  nextHops: string[];
  nlri: Nlri[];
}

export interface MpUnreach {
  family: Family;
  withdrawn: Nlri[];
}

export interface RawAttribute {
  flags: number;
  type: number;
  value: Buffer;
}

export interface PathAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  /** RFC 1997, each a 32-bit value (65000:100 is 65000 << 16 | 100). */
  communities?: number[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** RFC 4360, each 8 bytes as 16 hex digits; see routeTarget() for text forms. */
  extendedCommunities?: string[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: Aggregator;
  /** RFC 8092, "global:local1:local2". */
  largeCommunities?: string[];
  prefixSid?: PrefixSid;
  /** Optional transitive attributes we do not understand, kept byte for byte to pass them on. */
  unknown?: RawAttribute[];
}

export interface CodecContext {
  /** RFC 6793: both sides announced 4-octet AS; AS_PATH then carries 4-byte ASNs. */
  as4: boolean;
}

export const DEFAULT_CONTEXT: CodecContext = { as4: true };

// ---- per-attribute value encoders (value only, no header) ----

function asPathValueLength(segs: AsPathSegment[], asnSize: number): number {
  return segs.reduce((n, s) => n + 2 + asnSize * s.asns.length, 0);
}

function writeAsPath(segs: AsPathSegment[], asnSize: number, buf: Buffer, o: number): number {
  for (const s of segs) {
    if (s.asns.length > 255) throw new TypeError("AS_PATH segment longer than 255 ASNs");
    buf[o++] = s.type;
    buf[o++] = s.asns.length;
    for (const a of s.asns) {
      if (asnSize === 4) buf.writeUInt32BE(a, o);
      else buf.writeUInt16BE(a > 0xffff ? AS_TRANS : a, o);
      o += asnSize;
    }
  }
  return o;
}

function nextHopBytes(family: Family, hops: string[]): number {
  const rd = isVpn(family) ? 8 : 0;
  return hops.reduce((n, h) => n + rd + (isIpv6(h) ? 16 : 4), 0);
}

interface Encoded {
  type: number;
  flags: number;
  length: number;
  write(buf: Buffer, o: number): void;
}

function fixed(type: number, flags: number, length: number, write: (b: Buffer, o: number) => void): Encoded {
  return { type, flags, length, write };
}

function needsAs4Path(segs: AsPathSegment[] | undefined): boolean {
  return !!segs?.some((s) => s.asns.some((a) => a > 0xffff));
}

/** Attributes in type-code order (RFC 4271 recommends it; it also makes encodings canonical). */
function plan(a: PathAttributes, ctx: CodecContext): Encoded[] {
  const out: Encoded[] = [];
  const T = AttrFlag.Transitive;
  const O = AttrFlag.Optional;
  if (a.origin !== undefined)
    out.push(
      fixed(1, T, 1, (b, o) => {
        b[o] = a.origin!;
      }),
    );
  if (a.asPath) {
    const size = ctx.as4 ? 4 : 2;
    const segs = a.asPath;
    out.push(fixed(2, T, asPathValueLength(segs, size), (b, o) => void writeAsPath(segs, size, b, o)));
  }
  if (a.nextHop !== undefined) out.push(fixed(3, T, 4, (b, o) => void parseIpv4(a.nextHop!, b, o)));
  if (a.med !== undefined) out.push(fixed(4, O, 4, (b, o) => void b.writeUInt32BE(a.med!, o)));
  if (a.localPref !== undefined) out.push(fixed(5, T, 4, (b, o) => void b.writeUInt32BE(a.localPref!, o)));
  if (a.atomicAggregate) out.push(fixed(6, T, 0, () => {}));
  if (a.aggregator) {
    const ag = a.aggregator;
    const size = ctx.as4 ? 4 : 2;
    out.push(
      fixed(7, O | T, size + 4, (b, o) => {
        if (size === 4) b.writeUInt32BE(ag.asn, o);
        else b.writeUInt16BE(ag.asn > 0xffff ? AS_TRANS : ag.asn, o);
        parseIpv4(ag.address, b, o + size);
      }),
    );
  }
  if (a.communities) {
    const cs = a.communities;
    out.push(
      fixed(8, O | T, 4 * cs.length, (b, o) => {
        for (const [i, c] of cs.entries()) b.writeUInt32BE(c >>> 0, o + 4 * i);
      }),
    );
  }
  if (a.originatorId !== undefined) out.push(fixed(9, O, 4, (b, o) => void parseIpv4(a.originatorId!, b, o)));
  if (a.clusterList) {
    const cl = a.clusterList;
    out.push(
      fixed(10, O, 4 * cl.length, (b, o) => {
        for (const [i, c] of cl.entries()) parseIpv4(c, b, o + 4 * i);
      }),
    );
  }
  if (a.mpReach) {
    const m = a.mpReach;
    const nhLen = nextHopBytes(m.family, m.nextHops);
    const nlriLen = m.nlri.reduce((n, x) => n + nlriEncodingLength(x, m.family), 0);
    out.push(
      fixed(14, O, 5 + nhLen + nlriLen, (b, o) => {
        const { afi, safi } = afiSafi(m.family);
        b.writeUInt16BE(afi, o);
        b[o + 2] = safi;
        b[o + 3] = nhLen;
        o += 4;
        for (const h of m.nextHops) {
          if (isVpn(m.family)) {
            b.fill(0, o, o + 8);
            o += 8;
          }
          if (isIpv6(h)) parseIpv6(h, b, o);
          else parseIpv4(h, b, o);
          o += isIpv6(h) ? 16 : 4;
        }
        b[o++] = 0; // no SNPAs (RFC 4760 reserved)
        for (const n of m.nlri) o += encodeNlri(n, m.family, b, o);
      }),
    );
  }
  if (a.mpUnreach) {
    const m = a.mpUnreach;
    const nlriLen = m.withdrawn.reduce((n, x) => n + nlriEncodingLength(x, m.family), 0);
    out.push(
      fixed(15, O, 3 + nlriLen, (b, o) => {
        const { afi, safi } = afiSafi(m.family);
        b.writeUInt16BE(afi, o);
        b[o + 2] = safi;
        o += 3;
        for (const n of m.withdrawn) o += encodeNlri(n, m.family, b, o);
      }),
    );
  }
  if (a.extendedCommunities) {
    const ec = a.extendedCommunities;
    out.push(
      fixed(16, O | T, 8 * ec.length, (b, o) =>
        ec.forEach((c, i) => {
          if (!/^[0-9a-f]{16}$/i.test(c))
            throw new TypeError(`extended community must be 16 hex digits: ${c}`);
          b.write(c, o + 8 * i, 8, "hex");
        }),
      ),
    );
  }
  // RFC 6793 §4.2.2: a 2-octet session carries the true path in AS4_PATH when any ASN needs 4 octets.
  const as4Path = a.as4Path ?? (!ctx.as4 && needsAs4Path(a.asPath) ? a.asPath : undefined);
  if (as4Path && !ctx.as4) {
    out.push(fixed(17, O | T, asPathValueLength(as4Path, 4), (b, o) => void writeAsPath(as4Path, 4, b, o)));
  }
  const as4Agg =
    a.as4Aggregator ?? (!ctx.as4 && a.aggregator && a.aggregator.asn > 0xffff ? a.aggregator : undefined);
  if (as4Agg && !ctx.as4) {
    out.push(
      fixed(18, O | T, 8, (b, o) => {
        b.writeUInt32BE(as4Agg.asn, o);
        parseIpv4(as4Agg.address, b, o + 4);
      }),
    );
  }
  if (a.largeCommunities) {
    const lc = a.largeCommunities;
    out.push(
      fixed(32, O | T, 12 * lc.length, (b, o) =>
        lc.forEach((c, i) => {
          const parts = c.split(":").map(Number);
          if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 0xffffffff)) {
            throw new TypeError(`large community must be g:l1:l2: ${c}`);
          }
          for (const [j, p] of parts.entries()) b.writeUInt32BE(p, o + 12 * i + 4 * j);
        }),
      ),
    );
  }
  if (a.prefixSid) {
    const p = a.prefixSid;
    out.push(fixed(40, O | T, prefixSidEncodingLength(p), (b, o) => void encodePrefixSid(p, b, o)));
  }
  for (const u of a.unknown ?? []) {
    out.push(
      fixed(u.type, u.flags & ~AttrFlag.ExtendedLength, u.value.length, (b, o) => void u.value.copy(b, o)),
    );
  }
  return out;
}

function headerLength(e: Encoded): number {
  return e.length > 255 ? 4 : 3;
}

export function attributesEncodingLength(a: PathAttributes, ctx: CodecContext = DEFAULT_CONTEXT): number {
  return plan(a, ctx).reduce((n, e) => n + headerLength(e) + e.length, 0);
}

export function encodeAttributes(
  a: PathAttributes,
  ctx: CodecContext = DEFAULT_CONTEXT,
  buf?: Buffer,
  offset = 0,
): Buffer {
  const p = plan(a, ctx);
  const len = p.reduce((n, e) => n + headerLength(e) + e.length, 0);
  const b = buf ?? Buffer.alloc(len);
  let o = offset;
  for (const e of p) {
    if (e.length > 0xffff) throw new RangeError(`attribute ${e.type} longer than 65535 bytes`);
    const ext = e.length > 255;
    b[o] = e.flags | (ext ? AttrFlag.ExtendedLength : 0);
    b[o + 1] = e.type;
    if (ext) b.writeUInt16BE(e.length, o + 2);
    else b[o + 2] = e.length;
    o += headerLength(e);
    e.write(b, o);
    o += e.length;
  }
  return buf ? b.subarray(offset, o) : b;
}

// ---- decoding ----

/** Result of decoding the attribute block; RFC 7606 outcomes are data, not exceptions. */
export interface AttributesResult {
  attributes: PathAttributes;
  /** Errors that did not reset the session, in the order met. */
  errors: DecodeError[];
  treatAsWithdraw: boolean;
}

const expectedFlags: Record<number, number> = {
  1: 0x40,
  2: 0x40,
  3: 0x40,
  4: 0x80,
  5: 0x40,
  6: 0x40,
  7: 0xc0,
  8: 0xc0,
  9: 0x80,
  10: 0x80,
  14: 0x80,
  15: 0x80,
  16: 0xc0,
  17: 0xc0,
  18: 0xc0,
  32: 0xc0,
  40: 0xc0,
};

const names: Record<number, string> = {
  1: "ORIGIN",
  2: "AS_PATH",
  3: "NEXT_HOP",
  4: "MULTI_EXIT_DISC",
  5: "LOCAL_PREF",
  6: "ATOMIC_AGGREGATE",
  7: "AGGREGATOR",
  8: "COMMUNITIES",
  9: "ORIGINATOR_ID",
  10: "CLUSTER_LIST",
  14: "MP_REACH_NLRI",
  15: "MP_UNREACH_NLRI",
  16: "EXTENDED_COMMUNITIES",
  17: "AS4_PATH",
  18: "AS4_AGGREGATOR",
  32: "LARGE_COMMUNITY",
  40: "BGP Prefix-SID",
};

/** RFC 7606 §7: what a malformed instance of each attribute costs. */
function actionFor(type: number): ErrorAction {
  switch (type) {
    case 6: // ATOMIC_AGGREGATE
    case 7: // AGGREGATOR
    case 17: // AS4_PATH (RFC 6793 §6)
    case 18: // AS4_AGGREGATOR
      return "attribute-discard";
    case 14:
    case 15:
      return "session-reset";
    default:
      return "treat-as-withdraw";
  }
}

function decodeAsPath(r: Reader, size: number): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  while (r.remaining > 0) {
    const type = r.u8("AS_PATH segment type");
    const count = r.u8("AS_PATH segment length");
    if (type < 1 || type > 4) throw new Error(`segment type ${type}`);
    if (count === 0) throw new Error("zero-length segment");
    r.need(count * size, "AS_PATH segment");
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      asns[i] = size === 4 ? r.buf.readUInt32BE(r.pos) : r.buf.readUInt16BE(r.pos);
      r.pos += size;
    }
    segs.push({ type, asns });
  }
  return segs;
}

function decodeNextHops(family: Family, v: Buffer): string[] {
  const vpn = isVpn(family);
  const rd = vpn ? 8 : 0;
  const check = (o: number) => {
    // RFC 4659 §3.2.1.1: the RD of a VPN next hop is always zero.
    if (vpn && v.readBigUInt64BE(o) !== 0n)
      throw new Error("VPN next hop with a non-zero route distinguisher");
  };
  if (v.length === rd + 4 && !isV6(family)) {
    check(0);
    return [ipv4ToString(v, rd)];
  }
  if (v.length === rd + 16) {
    check(0);
    return [ipv6ToString(v, rd)];
  }
  if (v.length === 2 * (rd + 16)) {
    check(0);
    check(rd + 16);
    return [ipv6ToString(v, rd), ipv6ToString(v, 2 * rd + 16)];
  }
  throw new Error(`next hop length ${v.length} is not valid for ${family}`);
}

function decodeMpReach(r: Reader): MpReach {
  const afi = r.u16("MP_REACH AFI");
  const safi = r.u8("MP_REACH SAFI");
  const family = familyOf(afi, safi);
  if (!family) throw new Error(`unsupported AFI/SAFI ${afi}/${safi}`);
  const nhLen = r.u8("MP_REACH next hop length");
  const nextHops = decodeNextHops(family, r.bytes(nhLen, "MP_REACH next hop"));
  r.u8("MP_REACH reserved");
  return { family, nextHops, nlri: decodeNlriList(r, family) };
}

function decodeMpUnreach(r: Reader): MpUnreach {
  const afi = r.u16("MP_UNREACH AFI");
  const safi = r.u8("MP_UNREACH SAFI");
  const family = familyOf(afi, safi);
  if (!family) throw new Error(`unsupported AFI/SAFI ${afi}/${safi}`);
  return { family, withdrawn: decodeNlriList(r, family, [], { withdrawal: true }) };
}

function u32List(v: Buffer, unit: number, what: string): number[] {
  if (v.length === 0 || v.length % unit !== 0)
    throw new Error(`${what} length ${v.length} is not a multiple of ${unit}`);
  const out: number[] = [];
  for (let o = 0; o < v.length; o += 4) out.push(v.readUInt32BE(o));
  return out;
}

/**
 * Decodes one attribute's value into `a`. Throws plain Errors for malformation; the caller maps
 * them to the RFC 7606 action of that attribute type.
 */
function decodeOne(type: number, v: Buffer, ctx: CodecContext, a: PathAttributes, flags: number): void {
  const len = (n: number) => {
    if (v.length !== n) throw new Error(`length ${v.length}, expected ${n}`);
  };
  switch (type) {
    case 1:
      len(1);
      if (v[0]! > 2) throw new Error(`invalid ORIGIN value ${v[0]}`);
      a.origin = v[0]!;
      return;
    case 2:
      a.asPath = decodeAsPath(new Reader(v, 0, v.length), ctx.as4 ? 4 : 2);
      return;
    case 3:
      len(4);
      a.nextHop = ipv4ToString(v);
      return;
    case 4:
      len(4);
      a.med = v.readUInt32BE(0);
      return;
    case 5:
      len(4);
      a.localPref = v.readUInt32BE(0);
      return;
    case 6:
      len(0);
      a.atomicAggregate = true;
      return;
    case 7: {
      const size = ctx.as4 ? 4 : 2;
      len(size + 4);
      a.aggregator = {
        asn: size === 4 ? v.readUInt32BE(0) : v.readUInt16BE(0),
        address: ipv4ToString(v, size),
      };
      return;
    }
    case 8:
      a.communities = u32List(v, 4, "COMMUNITIES");
      return;
    case 9:
      len(4);
      a.originatorId = ipv4ToString(v);
      return;
    case 10:
      a.clusterList = u32List(v, 4, "CLUSTER_LIST").map((_, i) => ipv4ToString(v, 4 * i));
      return;
    case 14:
      a.mpReach = decodeMpReach(new Reader(v, 0, v.length, { action: "session-reset", code: 3, subcode: 9 }));
      return;
    case 15:
      a.mpUnreach = decodeMpUnreach(
        new Reader(v, 0, v.length, { action: "session-reset", code: 3, subcode: 9 }),
      );
      return;
    case 16:
      if (v.length === 0 || v.length % 8 !== 0) throw new Error(`length ${v.length} is not a multiple of 8`);
      a.extendedCommunities = [];
      for (let o = 0; o < v.length; o += 8) a.extendedCommunities.push(v.toString("hex", o, o + 8));
      return;
    case 17:
      a.as4Path = decodeAsPath(new Reader(v, 0, v.length), 4);
      return;
    case 18:
      len(8);
      a.as4Aggregator = { asn: v.readUInt32BE(0), address: ipv4ToString(v, 4) };
      return;
    case 32:
      if (v.length === 0 || v.length % 12 !== 0)
        throw new Error(`length ${v.length} is not a multiple of 12`);
      a.largeCommunities = [];
      for (let o = 0; o < v.length; o += 12) {
        a.largeCommunities.push(`${v.readUInt32BE(o)}:${v.readUInt32BE(o + 4)}:${v.readUInt32BE(o + 8)}`);
      }
      return;
    case 40:
      a.prefixSid = decodePrefixSid(v, 0, v.length);
      return;
    default:
      a.unknown = a.unknown ?? [];
      a.unknown.push({ flags: flags & ~AttrFlag.ExtendedLength, type, value: Buffer.from(v) });
  }
}

const updateError = (msg: string, action: ErrorAction, subcode: number, data?: Buffer) =>
  new DecodeError(msg, action, 3, subcode, data);

function subcodeFor(type: number, msg: string): number {
  if (type === 1 && msg.startsWith("invalid ORIGIN")) return 6;
  if (type === 2) return 11;
  if (type === 3) return 8;
  if (expectedFlags[type] === undefined || (expectedFlags[type]! & 0x80) !== 0) return 9;
  return 5;
}

/**
 * Decodes the path attribute block. Throws DecodeError only for session-reset errors; everything
 * RFC 7606 lets us survive comes back in `errors` with `treatAsWithdraw` set as needed.
 */
export function decodeAttributes(
  buf: Buffer,
  start: number,
  end: number,
  ctx: CodecContext = DEFAULT_CONTEXT,
): AttributesResult {
  const a: PathAttributes = {};
  const errors: DecodeError[] = [];
  const seen = new Set<number>();
  let treatAsWithdraw = false;
  let o = start;
  while (o < end) {
    if (end - o < 3) {
      errors.push(
        updateError(`path attribute header truncated: ${end - o} bytes left`, "treat-as-withdraw", 1),
      );
      treatAsWithdraw = true;
      break;
    }
    const flags = buf[o]!;
    const type = buf[o + 1]!;
    const ext = (flags & AttrFlag.ExtendedLength) !== 0;
    if (ext && end - o < 4) {
      errors.push(updateError("extended attribute length truncated", "treat-as-withdraw", 1));
      treatAsWithdraw = true;
      break;
    }
    const len = ext ? buf.readUInt16BE(o + 2) : buf[o + 2]!;
    const vStart = o + (ext ? 4 : 3);
    const name = names[type] ?? `attribute ${type}`;
    if (vStart + len > end) {
      // RFC 7606 §4: the rest of the block cannot be located; withdrawing is safe only if no MP
      // attribute could be hiding in the part we cannot read.
      const action: ErrorAction =
        seen.has(14) || seen.has(15) || type === 14 || type === 15 ? "session-reset" : "treat-as-withdraw";
      const err = updateError(
        `${name} length ${len} overruns the path attributes by ${vStart + len - end} bytes`,
        action,
        5,
      );
      if (action === "session-reset") throw err;
      errors.push(err);
      treatAsWithdraw = true;
      break;
    }
    o = vStart + len;
    const v = buf.subarray(vStart, vStart + len);
    if (seen.has(type)) {
      if (type === 14 || type === 15) throw updateError(`${name} appears twice`, "session-reset", 1);
      // RFC 7606 §3(g): keep the first, drop repeats.
      errors.push(updateError(`${name} appears twice; repeat discarded`, "attribute-discard", 1));
      continue;
    }
    seen.add(type);
    const expected = expectedFlags[type];
    if (expected === undefined) {
      if ((flags & AttrFlag.Optional) === 0) {
        throw updateError(
          `unrecognized well-known attribute ${type}`,
          "session-reset",
          2,
          buf.subarray(vStart - (ext ? 4 : 3), o),
        );
      }
      // Unknown optional non-transitive: RFC 4271 §5 says ignore it quietly.
      if ((flags & AttrFlag.Transitive) === 0) continue;
    } else if ((flags & 0xc0) !== expected) {
      const action = actionFor(type);
      const err = updateError(
        `${name} has flags 0x${flags.toString(16)}, expected 0x${expected.toString(16)}`,
        action,
        4,
      );
      if (action === "session-reset") throw err;
      errors.push(err);
      if (action === "treat-as-withdraw") treatAsWithdraw = true;
      continue;
    }
    try {
      decodeOne(type, v, ctx, a, flags);
    } catch (e) {
      const action = e instanceof DecodeError ? e.action : actionFor(type);
      const msg = `${name} malformed: ${(e as Error).message}`;
      const subcode = e instanceof DecodeError ? e.subcode : subcodeFor(type, (e as Error).message);
      if (action === "session-reset") throw updateError(msg, action, subcode);
      errors.push(updateError(msg, action, subcode));
      if (action === "treat-as-withdraw") treatAsWithdraw = true;
    }
  }
  return { attributes: a, errors, treatAsWithdraw };
}

/** RFC 6793 §4.2.3: merge AS_PATH and AS4_PATH received over a 2-octet session. */
export function reconstructAsPath(
  asPath: AsPathSegment[],
  as4Path: AsPathSegment[] | undefined,
): AsPathSegment[] {
  if (!as4Path) return asPath;
  const count = (segs: AsPathSegment[]) =>
    segs.reduce((n, s) => n + (s.type === 1 || s.type === 4 ? 1 : s.type === 2 ? s.asns.length : 0), 0);
  const n2 = count(asPath);
  const n4 = count(as4Path);
  if (n4 > n2) return asPath; // AS4_PATH is ignored when longer (RFC 6793)
  let keep = n2 - n4;
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (keep <= 0) break;
    if (s.type === 2) {
      const take = Math.min(keep, s.asns.length);
      out.push({ type: 2, asns: s.asns.slice(0, take) });
      keep -= take;
    } else {
      out.push(s);
      if (s.type === 1 || s.type === 4) keep -= 1;
    }
  }
  return [...out, ...as4Path];
}

/** Flattened AS path length for best-path (AS_SET counts 1, confederation segments 0). */
export function asPathLength(segs: AsPathSegment[] | undefined): number {
  if (!segs) return 0;
  let n = 0;
  for (const s of segs) n += s.type === 2 ? s.asns.length : s.type === 1 ? 1 : 0;
  return n;
}

export function attributeName(type: number): string {
  return names[type] ?? `attribute ${type}`;
}
