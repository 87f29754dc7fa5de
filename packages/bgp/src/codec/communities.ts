import { ipv4ToString, parseIpv4 } from "./ip.js";

// Text forms operators type, mapped to the wire values the codec carries.

/** "65000:100" -> 32-bit community; also the RFC 1997 well-known names. */
export function parseCommunity(text: string): number {
  const wellKnown: Record<string, number> = {
    "no-export": 0xffffff01,
    "no-advertise": 0xffffff02,
    "no-export-subconfed": 0xffffff03,
    blackhole: 0xffff029a,
  };
  const w = wellKnown[text.toLowerCase()];
  if (w !== undefined) return w;
  const [hi, lo, extra] = text.split(":").map(Number);
  if (extra !== undefined || !(hi! >= 0 && hi! <= 0xffff && lo! >= 0 && lo! <= 0xffff)) {
    throw new TypeError(`invalid community: ${text}`);
  }
  return ((hi! << 16) | lo!) >>> 0;
}

export function formatCommunity(c: number): string {
  return `${c >>> 16}:${c & 0xffff}`;
}

/**
 * Route target extended community (RFC 4360 §4): "65000:1" (2-octet AS), "192.0.2.1:1" (IPv4),
 * "4200000000:1" (4-octet AS, RFC 5668). Returned as the 16-hex-digit wire form.
 */
export function routeTarget(text: string, subtype = 0x02): string {
  const colon = text.lastIndexOf(":");
  const admin = text.slice(0, colon);
  const local = Number(text.slice(colon + 1));
  const b = Buffer.alloc(8);
  if (admin.includes(".")) {
    b[0] = 0x01;
    b[1] = subtype;
    parseIpv4(admin, b, 2);
    b.writeUInt16BE(local, 6);
  } else {
    const asn = Number(admin);
    if (asn <= 0xffff) {
      b[0] = 0x00;
      b[1] = subtype;
      b.writeUInt16BE(asn, 2);
      b.writeUInt32BE(local, 4);
    } else {
      b[0] = 0x02;
      b[1] = subtype;
      b.writeUInt32BE(asn, 2);
      b.writeUInt16BE(local, 6);
    }
  }
  return b.toString("hex");
}

/** "rt:65000:1" for route targets, "soo:..." for site of origin, raw hex otherwise. */
export function formatExtendedCommunity(hex: string): string {
  const b = Buffer.from(hex, "hex");
  const type = b[0]! & 0x3f;
  const sub = b[1]!;
  const name = sub === 0x02 ? "rt" : sub === 0x03 ? "soo" : undefined;
  if (!name || b.length !== 8) return hex;
  if (type === 0x00) return `${name}:${b.readUInt16BE(2)}:${b.readUInt32BE(4)}`;
  if (type === 0x01) return `${name}:${ipv4ToString(b, 2)}:${b.readUInt16BE(6)}`;
  if (type === 0x02) return `${name}:${b.readUInt32BE(2)}:${b.readUInt16BE(6)}`;
  return hex;
}
