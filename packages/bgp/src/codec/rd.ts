import { DecodeError } from "./errors.js";
import { ipv4ToString, parseIpv4 } from "./ip.js";

// Route distinguishers (RFC 4364 §4.2) as text: "65000:1" (type 0), "192.0.2.1:5" (type 1),
// "4200000000:7" (type 2). Type 0 vs 2 is decided by the ASN size, which round-trips because a
// type-2 RD with an ASN below 65536 is written "L" suffixed: "65000L:1" keeps it distinct.

export const RD_LENGTH = 8;

export function encodeRd(rd: string, buf: Buffer, offset: number): void {
  const colon = rd.lastIndexOf(":");
  if (colon < 0) throw new TypeError(`invalid route distinguisher: ${rd}`);
  const admin = rd.slice(0, colon);
  const assigned = Number(rd.slice(colon + 1));
  if (admin.includes(".")) {
    if (!(assigned >= 0 && assigned <= 0xffff)) throw new TypeError(`invalid route distinguisher: ${rd}`);
    buf.writeUInt16BE(1, offset);
    parseIpv4(admin, buf, offset + 2);
    buf.writeUInt16BE(assigned, offset + 6);
    return;
  }
  const forced4 = admin.endsWith("L");
  const asn = Number(forced4 ? admin.slice(0, -1) : admin);
  if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff || !Number.isInteger(assigned)) {
    throw new TypeError(`invalid route distinguisher: ${rd}`);
  }
  if (!forced4 && asn <= 0xffff) {
    if (assigned < 0 || assigned > 0xffffffff) throw new TypeError(`invalid route distinguisher: ${rd}`);
    buf.writeUInt16BE(0, offset);
    buf.writeUInt16BE(asn, offset + 2);
    buf.writeUInt32BE(assigned, offset + 4);
  } else {
    if (assigned < 0 || assigned > 0xffff) throw new TypeError(`invalid route distinguisher: ${rd}`);
    buf.writeUInt16BE(2, offset);
    buf.writeUInt32BE(asn, offset + 2);
    buf.writeUInt16BE(assigned, offset + 6);
  }
}

export function decodeRd(buf: Buffer, offset: number): string {
  const type = buf.readUInt16BE(offset);
  switch (type) {
    case 0:
      return `${buf.readUInt16BE(offset + 2)}:${buf.readUInt32BE(offset + 4)}`;
    case 1:
      return `${ipv4ToString(buf, offset + 2)}:${buf.readUInt16BE(offset + 6)}`;
    case 2: {
      const asn = buf.readUInt32BE(offset + 2);
      return `${asn}${asn <= 0xffff ? "L" : ""}:${buf.readUInt16BE(offset + 6)}`;
    }
    default:
      // Unknown RD types cannot be keyed meaningfully; RFC 7606 §5.3 treats bad NLRI as session-level.
      throw new DecodeError(`unknown route distinguisher type ${type}`, "session-reset", 3, 10);
  }
}
