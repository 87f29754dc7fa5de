import { DecodeError } from "./errors.js";
import { ipv6ToString, parseIpv6 } from "./ip.js";
import { Reader } from "./reader.js";

// BGP Prefix-SID attribute (type 40, RFC 8669) with the SRv6 Service TLVs of RFC 9252.
// Layout: TLV = type(1) length(2) value; SRv6 Service TLV value = reserved(1) + sub-TLVs;
// SID Information sub-TLV = reserved(1) SID(16) flags(1) behavior(2) reserved(1) + sub-sub-TLVs;
// SID Structure sub-sub-TLV = LBL LNL FL AL TL TO (1 byte each).

export interface SidStructure {
  locatorBlockLength: number;
  locatorNodeLength: number;
  functionLength: number;
  argumentLength: number;
  transpositionLength: number;
  transpositionOffset: number;
}

export interface RawTlv {
  type: number;
  value: Buffer;
}

export interface Srv6SidInformation {
  sid: string;
  flags: number;
  /** SRv6 Endpoint Behavior code point, e.g. 0x0013 End.DT4, 0x0012 End.DT6, 0x0014 End.DT46. */
  behavior: number;
  structure?: SidStructure;
  unknown?: RawTlv[];
}

export interface Srv6ServiceTlv {
  sids: Srv6SidInformation[];
  unknown?: RawTlv[];
}

export interface PrefixSid {
  /** Label-Index TLV (type 1). */
  labelIndex?: { flags: number; index: number };
  /** SRv6 L3 Service TLV (type 5). */
  srv6L3Service?: Srv6ServiceTlv;
  /** SRv6 L2 Service TLV (type 6). */
  srv6L2Service?: Srv6ServiceTlv;
  unknown?: RawTlv[];
}

export const SrBehavior = {
  EndDX6: 0x0010,
  EndDX4: 0x0011,
  EndDT6: 0x0012,
  EndDT4: 0x0013,
  EndDT46: 0x0014,
} as const;

function rawTlvsLength(tlvs: RawTlv[] | undefined): number {
  return (tlvs ?? []).reduce((n, t) => n + 3 + t.value.length, 0);
}

function sidInfoValueLength(s: Srv6SidInformation): number {
  return 21 + (s.structure ? 9 : 0) + rawTlvsLength(s.unknown);
}

function serviceValueLength(t: Srv6ServiceTlv): number {
  return 1 + t.sids.reduce((n, s) => n + 3 + sidInfoValueLength(s), 0) + rawTlvsLength(t.unknown);
}

export function prefixSidEncodingLength(p: PrefixSid): number {
  let n = 0;
  if (p.labelIndex) n += 3 + 7;
  if (p.srv6L3Service) n += 3 + serviceValueLength(p.srv6L3Service);
  if (p.srv6L2Service) n += 3 + serviceValueLength(p.srv6L2Service);
  return n + rawTlvsLength(p.unknown);
}

function writeRaw(tlvs: RawTlv[] | undefined, buf: Buffer, o: number): number {
  for (const t of tlvs ?? []) {
    buf[o] = t.type;
    buf.writeUInt16BE(t.value.length, o + 1);
    t.value.copy(buf, o + 3);
    o += 3 + t.value.length;
  }
  return o;
}

function writeService(type: number, t: Srv6ServiceTlv, buf: Buffer, o: number): number {
  buf[o] = type;
  buf.writeUInt16BE(serviceValueLength(t), o + 1);
  buf[o + 3] = 0;
  o += 4;
  for (const s of t.sids) {
    buf[o] = 1;
    buf.writeUInt16BE(sidInfoValueLength(s), o + 1);
    buf[o + 3] = 0;
    parseIpv6(s.sid, buf, o + 4);
    buf[o + 20] = s.flags;
    buf.writeUInt16BE(s.behavior, o + 21);
    buf[o + 23] = 0;
    o += 24;
    if (s.structure) {
      const st = s.structure;
      buf[o] = 1;
      buf.writeUInt16BE(6, o + 1);
      buf[o + 3] = st.locatorBlockLength;
      buf[o + 4] = st.locatorNodeLength;
      buf[o + 5] = st.functionLength;
      buf[o + 6] = st.argumentLength;
      buf[o + 7] = st.transpositionLength;
      buf[o + 8] = st.transpositionOffset;
      o += 9;
    }
    o = writeRaw(s.unknown, buf, o);
  }
  return writeRaw(t.unknown, buf, o);
}

export function encodePrefixSid(p: PrefixSid, buf: Buffer, offset: number): number {
  let o = offset;
  if (p.labelIndex) {
    buf[o] = 1;
    buf.writeUInt16BE(7, o + 1);
    buf[o + 3] = 0;
    buf.writeUInt16BE(p.labelIndex.flags, o + 4);
    buf.writeUInt32BE(p.labelIndex.index, o + 6);
    o += 10;
  }
  if (p.srv6L3Service) o = writeService(5, p.srv6L3Service, buf, o);
  if (p.srv6L2Service) o = writeService(6, p.srv6L2Service, buf, o);
  o = writeRaw(p.unknown, buf, o);
  return o - offset;
}

// RFC 8669 §6 / RFC 9252 §6: a malformed Prefix-SID makes the route unusable but not the session.
const onShort = { action: "treat-as-withdraw" as const, code: 3, subcode: 9 };
const malformed = (msg: string) => new DecodeError(`Prefix-SID: ${msg}`, "treat-as-withdraw", 3, 9);

function readTlv(r: Reader, what: string): { type: number; body: Reader } {
  const type = r.u8(`${what} type`);
  const len = r.u16(`${what} length`);
  return { type, body: r.sub(len, `${what} value`, onShort) };
}

function decodeService(body: Reader): Srv6ServiceTlv {
  body.u8("SRv6 Service TLV reserved");
  const out: Srv6ServiceTlv = { sids: [] };
  while (body.remaining > 0) {
    const { type, body: sub } = readTlv(body, "SRv6 Service sub-TLV");
    if (type !== 1) {
      out.unknown = out.unknown ?? [];
      out.unknown.push({ type, value: Buffer.from(sub.bytes(sub.remaining, "sub-TLV")) });
      continue;
    }
    if (sub.remaining < 21) throw malformed(`SID Information sub-TLV of ${sub.remaining} bytes, need 21`);
    sub.u8("SID Information reserved");
    const sid = ipv6ToString(sub.bytes(16, "SID"));
    const flags = sub.u8("SID flags");
    const behavior = sub.u16("endpoint behavior");
    sub.u8("SID Information reserved2");
    const info: Srv6SidInformation = { sid, flags, behavior };
    while (sub.remaining > 0) {
      const { type: sst, body: ss } = readTlv(sub, "SRv6 Service sub-sub-TLV");
      if (sst === 1) {
        if (ss.remaining !== 6) throw malformed(`SID Structure of ${ss.remaining} bytes, need 6`);
        const st: SidStructure = {
          locatorBlockLength: ss.u8("LBL"),
          locatorNodeLength: ss.u8("LNL"),
          functionLength: ss.u8("FL"),
          argumentLength: ss.u8("AL"),
          transpositionLength: ss.u8("TL"),
          transpositionOffset: ss.u8("TO"),
        };
        if (st.locatorBlockLength + st.locatorNodeLength + st.functionLength + st.argumentLength > 128) {
          throw malformed("SID Structure lengths exceed 128 bits");
        }
        if (st.transpositionOffset + st.transpositionLength > 128 || st.transpositionLength > 20) {
          throw malformed("transposition outside the SID or wider than a label");
        }
        info.structure = st;
      } else {
        info.unknown = info.unknown ?? [];
        info.unknown.push({ type: sst, value: Buffer.from(ss.bytes(ss.remaining, "sub-sub-TLV")) });
      }
    }
    out.sids.push(info);
  }
  return out;
}

export function decodePrefixSid(buf: Buffer, start: number, end: number): PrefixSid {
  const r = new Reader(buf, start, end, onShort);
  const out: PrefixSid = {};
  while (r.remaining > 0) {
    const { type, body } = readTlv(r, "Prefix-SID TLV");
    if (type === 1) {
      if (body.remaining !== 7) throw malformed(`Label-Index TLV of ${body.remaining} bytes, need 7`);
      body.u8("reserved");
      out.labelIndex = { flags: body.u16("flags"), index: body.u32("label index") };
    } else if (type === 5 || type === 6) {
      const svc = decodeService(body);
      if (type === 5) out.srv6L3Service = svc;
      else out.srv6L2Service = svc;
    } else {
      out.unknown = out.unknown ?? [];
      out.unknown.push({ type, value: Buffer.from(body.bytes(body.remaining, "TLV")) });
    }
  }
  return out;
}

/**
 * RFC 9252 §4 transposition: the SID bits [offset, offset+length) travel in the high-order bits of the
 * 20-bit MPLS label and are zeroed in the SID, so many VPN prefixes can share one attribute set.
 */
export function transposeSid(sid: string, st: SidStructure): { sid: string; label: number } {
  const bytes = parseIpv6(sid);
  let label = 0;
  for (let i = 0; i < st.transpositionLength; i++) {
    const bit = st.transpositionOffset + i;
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    label = (label << 1) | (bytes[byte]! & mask ? 1 : 0);
    bytes[byte] = bytes[byte]! & ~mask;
  }
  return { sid: ipv6ToString(bytes), label: label << (20 - st.transpositionLength) };
}

/** Inverse of transposeSid: rebuilds the full SID a receiver must program. */
export function untransposeSid(sid: string, label: number, st: SidStructure): string {
  const bytes = parseIpv6(sid);
  const bits = label >>> (20 - st.transpositionLength);
  for (let i = 0; i < st.transpositionLength; i++) {
    const bit = st.transpositionOffset + i;
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((bits >> (st.transpositionLength - 1 - i)) & 1) bytes[byte] = bytes[byte]! | mask;
    else bytes[byte] = bytes[byte]! & ~mask;
  }
  return ipv6ToString(bytes);
}

/** The SRv6 service a VPN route points at, with the SID rebuilt as the receiver must program it. */
export interface Srv6ServiceSid {
  /** Full SID: the function bits put back from the label when the route was transposed. */
  sid: string;
  behavior: number;
  structure?: SidStructure;
  /** The bits travelled in the label (RFC 9252 §4). */
  transposed: boolean;
}

/**
 * The first SRv6 L3 service SID of a received route, untransposed. A transposed route that carries
 * no label cannot be rebuilt and gives undefined rather than a SID with its function zeroed.
 */
export function serviceSid(route: {
  prefixSid?: PrefixSid;
  labels?: readonly number[];
}): Srv6ServiceSid | undefined {
  const info = route.prefixSid?.srv6L3Service?.sids[0];
  if (!info) return undefined;
  const st = info.structure;
  const base = { behavior: info.behavior, ...(st ? { structure: st } : {}) };
  if (!st || st.transpositionLength === 0) return { sid: info.sid, ...base, transposed: false };
  const label = route.labels?.[0];
  if (label === undefined) return undefined;
  return { sid: untransposeSid(info.sid, label, st), ...base, transposed: true };
}
