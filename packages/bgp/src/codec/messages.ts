import {
  type AttributesResult,
  attributesEncodingLength,
  type CodecContext,
  DEFAULT_CONTEXT,
  decodeAttributes,
  encodeAttributes,
  type PathAttributes,
} from "./attributes.js";
import {
  type Capabilities,
  capabilitiesEncodingLength,
  decodeOptionalParameters,
  encodeCapabilities,
} from "./capabilities.js";
import { DecodeError } from "./errors.js";
import { afiSafi, type Family, familyOf } from "./families.js";
import { ipv4ToString, parseIpv4 } from "./ip.js";
import { decodeNlriList, encodeNlri, type Nlri, nlriEncodingLength } from "./nlri.js";
import { Reader } from "./reader.js";

export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
export const MessageType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const;

export interface OpenMessage {
  type: "open";
  version: number;
  /** The 2-octet My AS field; AS_TRANS when the real ASN needs 4 octets (then see capabilities.as4). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capabilities;
}

export interface UpdateMessage {
  type: "update";
  /** IPv4 unicast withdrawals from the classic field (MP families use attributes.mpUnreach). */
  withdrawn: Nlri[];
  attributes: PathAttributes;
  /** IPv4 unicast NLRI from the classic field. */
  nlri: Nlri[];
  /** RFC 7606: set when attribute errors mean every NLRI in this UPDATE must be handled as withdrawn. */
  treatAsWithdraw?: boolean;
  /** Errors that were survived (treat-as-withdraw or attribute-discard), for logs and status. */
  errors?: DecodeError[];
}

export interface NotificationMessage {
  type: "notification";
  code: number;
  subcode: number;
  data: Buffer;
}

export interface KeepaliveMessage {
  type: "keepalive";
}

export interface RouteRefreshMessage {
  type: "route-refresh";
  family: Family;
  /** RFC 7313 message subtype (0 = normal request). */
  subtype: number;
}

export type Message =
  | OpenMessage
  | UpdateMessage
  | NotificationMessage
  | KeepaliveMessage
  | RouteRefreshMessage;

function bodyLength(m: Message, ctx: CodecContext): number {
  switch (m.type) {
    case "open":
      return 10 + capabilitiesEncodingLength(m.capabilities);
    case "update":
      return (
        4 +
        m.withdrawn.reduce((n, x) => n + nlriEncodingLength(x, "ipv4-unicast"), 0) +
        attributesEncodingLength(m.attributes, ctx) +
        m.nlri.reduce((n, x) => n + nlriEncodingLength(x, "ipv4-unicast"), 0)
      );
    case "notification":
      return 2 + m.data.length;
    case "keepalive":
      return 0;
    case "route-refresh":
      return 4;
  }
}

export function encodingLength(m: Message, ctx: CodecContext = DEFAULT_CONTEXT): number {
  return HEADER_LENGTH + bodyLength(m, ctx);
}

const typeCode = { open: 1, update: 2, notification: 3, keepalive: 4, "route-refresh": 5 } as const;

/** Encodes a whole message with its header. Throws RangeError if it would exceed 4096 bytes. */
export function encode(m: Message, ctx: CodecContext = DEFAULT_CONTEXT, buf?: Buffer, offset = 0): Buffer {
  const total = encodingLength(m, ctx);
  if (total > MAX_MESSAGE_LENGTH)
    throw new RangeError(`${m.type} message of ${total} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  const b = buf ?? Buffer.allocUnsafe(total);
  let o = offset;
  b.fill(0xff, o, o + 16);
  b.writeUInt16BE(total, o + 16);
  b[o + 18] = typeCode[m.type];
  o += HEADER_LENGTH;
  switch (m.type) {
    case "open": {
      b[o] = m.version;
      b.writeUInt16BE(m.myAs, o + 1);
      b.writeUInt16BE(m.holdTime, o + 3);
      parseIpv4(m.bgpId, b, o + 5);
      const capLen = capabilitiesEncodingLength(m.capabilities);
      if (capLen > 255) throw new RangeError("optional parameters longer than 255 bytes");
      b[o + 9] = capLen;
      encodeCapabilities(m.capabilities, b, o + 10);
      break;
    }
    case "update": {
      const wStart = o + 2;
      let p = wStart;
      for (const w of m.withdrawn) p += encodeNlri(w, "ipv4-unicast", b, p);
      b.writeUInt16BE(p - wStart, o);
      const aStart = p + 2;
      const attrs = encodeAttributes(m.attributes, ctx, b, aStart);
      b.writeUInt16BE(attrs.length, p);
      p = aStart + attrs.length;
      for (const n of m.nlri) p += encodeNlri(n, "ipv4-unicast", b, p);
      break;
    }
    case "notification":
      b[o] = m.code;
      b[o + 1] = m.subcode;
      m.data.copy(b, o + 2);
      break;
    case "keepalive":
      break;
    case "route-refresh": {
      const { afi, safi } = afiSafi(m.family);
      b.writeUInt16BE(afi, o);
      b[o + 2] = m.subtype;
      b[o + 3] = safi;
      break;
    }
  }
  return buf ? b.subarray(offset, offset + total) : b;
}

/**
 * Looks at the start of a stream buffer. Returns the length of the first whole message, 0 when more
 * bytes are needed, and throws DecodeError (session-reset) for a bad header — so framing errors are
 * reported before waiting for bytes that may never come.
 */
export function frameLength(buf: Buffer, offset = 0): number {
  if (buf.length - offset < HEADER_LENGTH) return 0;
  for (let i = 0; i < 16; i++) {
    if (buf[offset + i] !== 0xff)
      throw new DecodeError("message marker is not all ones", "session-reset", 1, 1);
  }
  const len = buf.readUInt16BE(offset + 16);
  const type = buf[offset + 18]!;
  const lenData = Buffer.alloc(2);
  lenData.writeUInt16BE(len);
  const min = type === 1 ? 29 : type === 2 ? 23 : type === 3 ? 21 : type === 5 ? 23 : 19;
  if (type < 1 || type > 5)
    throw new DecodeError(`bad message type ${type}`, "session-reset", 1, 3, Buffer.from([type]));
  if (len < min || len > MAX_MESSAGE_LENGTH || (type === 4 && len !== 19)) {
    throw new DecodeError(`bad message length ${len} for type ${type}`, "session-reset", 1, 2, lenData);
  }
  return buf.length - offset >= len ? len : 0;
}

function decodeOpen(r: Reader): OpenMessage {
  const version = r.u8("OPEN version");
  if (version !== 4) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(4);
    throw new DecodeError(`unsupported BGP version ${version}`, "session-reset", 2, 1, data);
  }
  const myAs = r.u16("OPEN my AS");
  const holdTime = r.u16("OPEN hold time");
  const bgpId = ipv4ToString(r.bytes(4, "OPEN BGP identifier"));
  let optLen = r.u8("OPEN optional parameters length");
  let extended = false;
  // RFC 9072: a non-extended length of 255 followed by type 255 switches to 2-byte lengths.
  if (optLen === 255 && r.remaining >= 3 && r.buf[r.pos] === 255) {
    r.u8("extended optional parameters marker");
    optLen = r.u16("extended optional parameters length");
    extended = true;
  }
  const p = r.sub(optLen, "OPEN optional parameters", { action: "session-reset", code: 2, subcode: 0 });
  if (r.remaining !== 0)
    throw new DecodeError("OPEN has bytes after its optional parameters", "session-reset", 1, 2);
  if (holdTime === 1 || holdTime === 2) {
    throw new DecodeError(`unacceptable hold time ${holdTime}`, "session-reset", 2, 6);
  }
  return {
    type: "open",
    version,
    myAs,
    holdTime,
    bgpId,
    capabilities: decodeOptionalParameters(p, extended),
  };
}

function decodeUpdate(r: Reader, ctx: CodecContext): UpdateMessage {
  const listError = { action: "session-reset" as const, code: 3, subcode: 1 };
  const wLen = r.u16("withdrawn routes length");
  const w = r.sub(wLen, "withdrawn routes", listError);
  const aLen = r.u16("total path attribute length");
  const a = r.sub(aLen, "path attributes", listError);
  const withdrawn = decodeNlriList(w, "ipv4-unicast");
  const nlri = decodeNlriList(new Reader(r.buf, r.pos, r.end), "ipv4-unicast");
  let res: AttributesResult = { attributes: {}, errors: [], treatAsWithdraw: false };
  if (aLen > 0) res = decodeAttributes(r.buf, a.pos, a.end, ctx);
  const at = res.attributes;
  // RFC 7606 §3(d): missing well-known mandatory attributes are treat-as-withdraw.
  const announces = nlri.length > 0 || (at.mpReach?.nlri.length ?? 0) > 0;
  if (announces && !res.treatAsWithdraw) {
    const missing: string[] = [];
    if (at.origin === undefined) missing.push("ORIGIN");
    if (at.asPath === undefined) missing.push("AS_PATH");
    if (nlri.length > 0 && at.nextHop === undefined) missing.push("NEXT_HOP");
    if (missing.length > 0) {
      res.errors.push(
        new DecodeError(`missing well-known attribute ${missing.join(", ")}`, "treat-as-withdraw", 3, 3),
      );
      res.treatAsWithdraw = true;
    }
  }
  const m: UpdateMessage = { type: "update", withdrawn, attributes: at, nlri };
  if (res.treatAsWithdraw) m.treatAsWithdraw = true;
  if (res.errors.length > 0) m.errors = res.errors;
  return m;
}

/** Decodes exactly one framed message at buf[offset..offset+length). */
export function decode(buf: Buffer, offset = 0, ctx: CodecContext = DEFAULT_CONTEXT): Message {
  const len = frameLength(buf, offset);
  if (len === 0) {
    throw new DecodeError(`truncated message: ${buf.length - offset} bytes`, "session-reset", 1, 2);
  }
  const type = buf[offset + 18]!;
  const r = new Reader(buf, offset + HEADER_LENGTH, offset + len);
  switch (type) {
    case 1:
      return decodeOpen(r);
    case 2:
      return decodeUpdate(r, ctx);
    case 3: {
      const code = r.u8("NOTIFICATION code");
      const subcode = r.u8("NOTIFICATION subcode");
      return {
        type: "notification",
        code,
        subcode,
        data: Buffer.from(r.bytes(r.remaining, "NOTIFICATION data")),
      };
    }
    case 4:
      return { type: "keepalive" };
    default: {
      const afi = r.u16("ROUTE-REFRESH AFI");
      const subtype = r.u8("ROUTE-REFRESH subtype");
      const safi = r.u8("ROUTE-REFRESH SAFI");
      const family = familyOf(afi, safi);
      if (r.remaining !== 0)
        throw new DecodeError("ROUTE-REFRESH longer than 4 bytes", "session-reset", 7, 1);
      if (!family)
        throw new DecodeError(
          `ROUTE-REFRESH for unsupported AFI/SAFI ${afi}/${safi}`,
          "attribute-discard",
          7,
          0,
        );
      return { type: "route-refresh", family, subtype };
    }
  }
}

export type DecodeOutcome = { ok: true; message: Message } | { ok: false; error: DecodeError };

/** decode() that never throws: every failure is a DecodeError with its RFC 7606 action. */
export function safeDecode(buf: Buffer, offset = 0, ctx: CodecContext = DEFAULT_CONTEXT): DecodeOutcome {
  try {
    return { ok: true, message: decode(buf, offset, ctx) };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e };
    // A non-DecodeError here is a codec bug; it still must not take the session handler down.
    return {
      ok: false,
      error: new DecodeError(`internal decoder error: ${(e as Error).message}`, "session-reset", 3, 1),
    };
  }
}
