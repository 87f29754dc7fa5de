import { DecodeError } from "./errors.js";
import { afiSafi, type Family, familyOf } from "./families.js";
import type { Reader } from "./reader.js";

// OPEN capabilities (RFC 5492). Known ones become fields; the rest are kept raw so status can show
// what the peer offered even when we do not act on it.

export interface GracefulRestartCap {
  /** R bit: the peer has restarted and is not keeping our routes' state. */
  restarting: boolean;
  /** N bit, RFC 8538 notification support. */
  notification: boolean;
  time: number;
  families: { family: Family; forwardingPreserved: boolean }[];
}

export interface ExtendedNextHopEntry {
  family: Family;
  nextHopAfi: number;
}

export interface Capabilities {
  multiprotocol?: Family[];
  routeRefresh?: boolean;
  extendedNextHop?: ExtendedNextHopEntry[];
  gracefulRestart?: GracefulRestartCap;
  as4?: number;
  unknown?: { code: number; value: Buffer }[];
}

export const CapCode = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  ExtendedNextHop: 5,
  GracefulRestart: 64,
  FourOctetAs: 65,
} as const;

interface CapEntry {
  code: number;
  value: Buffer;
}

function entries(c: Capabilities): CapEntry[] {
  const out: CapEntry[] = [];
  for (const f of c.multiprotocol ?? []) {
    const { afi, safi } = afiSafi(f);
    const v = Buffer.alloc(4);
    v.writeUInt16BE(afi, 0);
    v[3] = safi;
    out.push({ code: 1, value: v });
  }
  if (c.routeRefresh) out.push({ code: 2, value: Buffer.alloc(0) });
  if (c.extendedNextHop && c.extendedNextHop.length > 0) {
    const v = Buffer.alloc(6 * c.extendedNextHop.length);
    c.extendedNextHop.forEach((e, i) => {
      const { afi, safi } = afiSafi(e.family);
      v.writeUInt16BE(afi, 6 * i);
      v.writeUInt16BE(safi, 6 * i + 2);
      v.writeUInt16BE(e.nextHopAfi, 6 * i + 4);
    });
    out.push({ code: 5, value: v });
  }
  if (c.gracefulRestart) {
    const g = c.gracefulRestart;
    const v = Buffer.alloc(2 + 4 * g.families.length);
    v.writeUInt16BE((g.restarting ? 0x8000 : 0) | (g.notification ? 0x4000 : 0) | (g.time & 0xfff), 0);
    g.families.forEach((f, i) => {
      const { afi, safi } = afiSafi(f.family);
      v.writeUInt16BE(afi, 2 + 4 * i);
      v[4 + 4 * i] = safi;
      v[5 + 4 * i] = f.forwardingPreserved ? 0x80 : 0;
    });
    out.push({ code: 64, value: v });
  }
  if (c.as4 !== undefined) {
    const v = Buffer.alloc(4);
    v.writeUInt32BE(c.as4, 0);
    out.push({ code: 65, value: v });
  }
  for (const u of c.unknown ?? []) out.push(u);
  return out;
}

/** Length of the Optional Parameters field: one Capabilities parameter per capability (most compatible). */
export function capabilitiesEncodingLength(c: Capabilities): number {
  return entries(c).reduce((n, e) => n + 4 + e.value.length, 0);
}

export function encodeCapabilities(c: Capabilities, buf: Buffer, offset: number): number {
  let o = offset;
  for (const e of entries(c)) {
    if (e.value.length > 253) throw new RangeError(`capability ${e.code} too long`);
    buf[o++] = 2;
    buf[o++] = 2 + e.value.length;
    buf[o++] = e.code;
    buf[o++] = e.value.length;
    e.value.copy(buf, o);
    o += e.value.length;
  }
  return o - offset;
}

const openError = (msg: string, subcode: number) => new DecodeError(msg, "session-reset", 2, subcode);

function addCapability(c: Capabilities, code: number, v: Buffer): void {
  switch (code) {
    case 1: {
      if (v.length !== 4) throw openError(`multiprotocol capability of ${v.length} bytes`, 0);
      const f = familyOf(v.readUInt16BE(0), v[3]!);
      // Families we do not implement are simply not negotiated.
      if (f) {
        c.multiprotocol = c.multiprotocol ?? [];
        if (!c.multiprotocol.includes(f)) c.multiprotocol.push(f);
      } else {
        c.unknown = c.unknown ?? [];
        c.unknown.push({ code, value: Buffer.from(v) });
      }
      return;
    }
    case 2:
      c.routeRefresh = true;
      return;
    case 5: {
      if (v.length % 6 !== 0) throw openError(`extended next hop capability of ${v.length} bytes`, 0);
      for (let o = 0; o < v.length; o += 6) {
        const f = familyOf(v.readUInt16BE(o), v.readUInt16BE(o + 2));
        if (!f) continue;
        c.extendedNextHop = c.extendedNextHop ?? [];
        c.extendedNextHop.push({ family: f, nextHopAfi: v.readUInt16BE(o + 4) });
      }
      return;
    }
    case 64: {
      if (v.length < 2 || (v.length - 2) % 4 !== 0)
        throw openError(`graceful restart capability of ${v.length} bytes`, 0);
      const w = v.readUInt16BE(0);
      const g: GracefulRestartCap = {
        restarting: (w & 0x8000) !== 0,
        notification: (w & 0x4000) !== 0,
        time: w & 0xfff,
        families: [],
      };
      for (let o = 2; o < v.length; o += 4) {
        const f = familyOf(v.readUInt16BE(o), v[o + 2]!);
        if (f) g.families.push({ family: f, forwardingPreserved: (v[o + 3]! & 0x80) !== 0 });
      }
      c.gracefulRestart = g;
      return;
    }
    case 65:
      if (v.length !== 4) throw openError(`4-octet AS capability of ${v.length} bytes`, 0);
      c.as4 = v.readUInt32BE(0);
      return;
    default:
      c.unknown = c.unknown ?? [];
      c.unknown.push({ code, value: Buffer.from(v) });
  }
}

/** Decodes the Optional Parameters of an OPEN (RFC 9072 extended form included). */
export function decodeOptionalParameters(r: Reader, extended: boolean): Capabilities {
  const c: Capabilities = {};
  while (r.remaining > 0) {
    const type = r.u8("optional parameter type");
    const len = extended ? r.u16("optional parameter length") : r.u8("optional parameter length");
    const p = r.sub(len, "optional parameter value", { action: "session-reset", code: 2, subcode: 0 });
    if (type !== 2) throw openError(`unsupported optional parameter ${type}`, 4);
    while (p.remaining > 0) {
      const code = p.u8("capability code");
      const clen = p.u8("capability length");
      addCapability(c, code, p.bytes(clen, "capability value"));
    }
  }
  return c;
}
