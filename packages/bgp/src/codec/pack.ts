import {
  AttrFlag,
  type CodecContext,
  DEFAULT_CONTEXT,
  encodeAttributes,
  type PathAttributes,
} from "./attributes.js";
import { afiSafi, type Family, isVpn } from "./families.js";
import { isIpv6, parseIpv4, parseIpv6 } from "./ip.js";
import { HEADER_LENGTH, MAX_MESSAGE_LENGTH } from "./messages.js";
import { encodeNlri, type Nlri } from "./nlri.js";

// Packs many prefixes that share one attribute set into as few UPDATEs as fit in 4096 bytes.
// The shared attributes are encoded once; only NLRI bytes differ between the messages.

const MAX_NLRI_BYTES = 1 + 3 + 8 + 16; // VPNv6 /128 with one label

function header(buf: Buffer, len: number): void {
  buf.fill(0xff, 0, 16);
  buf.writeUInt16BE(len, 16);
  buf[18] = 2;
}

/**
 * UPDATEs announcing `nlri` with `attrs`. IPv4 unicast with an IPv4 next hop uses the classic NLRI
 * field; everything else travels in MP_REACH_NLRI (RFC 4760), including IPv4 over an IPv6 next hop
 * (RFC 8950).
 */
export function packAnnouncements(
  family: Family,
  attrs: PathAttributes,
  nextHops: string[],
  nlri: Nlri[],
  ctx: CodecContext = DEFAULT_CONTEXT,
): Buffer[] {
  const classic = family === "ipv4-unicast" && nextHops.length === 1 && !isIpv6(nextHops[0]!);
  const base = encodeAttributes(
    { ...attrs, mpReach: undefined, mpUnreach: undefined, nextHop: classic ? nextHops[0] : undefined },
    ctx,
  );
  const out: Buffer[] = [];
  const vpn = isVpn(family);
  const nhLen = nextHops.reduce((n, h) => n + (vpn ? 8 : 0) + (isIpv6(h) ? 16 : 4), 0);
  const mpFixed = classic ? 0 : 4 + 5 + nhLen; // extended-length attribute header + AFI/SAFI/NH/reserved
  const budget = MAX_MESSAGE_LENGTH - HEADER_LENGTH - 4 - base.length - mpFixed;
  const scratch = Buffer.allocUnsafe(MAX_MESSAGE_LENGTH);
  let i = 0;
  while (i < nlri.length) {
    let used = 0;
    while (i < nlri.length && used + MAX_NLRI_BYTES <= budget) {
      used += encodeNlri(nlri[i]!, family, scratch, used);
      i++;
    }
    const total = HEADER_LENGTH + 4 + mpFixed + base.length + used;
    const msg = Buffer.allocUnsafe(total);
    header(msg, total);
    let o = HEADER_LENGTH;
    msg.writeUInt16BE(0, o);
    msg.writeUInt16BE(mpFixed + (classic ? 0 : used) + base.length, o + 2);
    o += 4;
    if (!classic) {
      msg[o] = AttrFlag.Optional | AttrFlag.ExtendedLength;
      msg[o + 1] = 14;
      msg.writeUInt16BE(5 + nhLen + used, o + 2);
      const { afi, safi } = afiSafi(family);
      msg.writeUInt16BE(afi, o + 4);
      msg[o + 6] = safi;
      msg[o + 7] = nhLen;
      o += 8;
      for (const h of nextHops) {
        if (vpn) {
          msg.fill(0, o, o + 8);
          o += 8;
        }
        if (isIpv6(h)) parseIpv6(h, msg, o);
        else parseIpv4(h, msg, o);
        o += isIpv6(h) ? 16 : 4;
      }
      msg[o++] = 0;
      scratch.copy(msg, o, 0, used);
      o += used;
      base.copy(msg, o);
    } else {
      base.copy(msg, o);
      o += base.length;
      scratch.copy(msg, o, 0, used);
    }
    out.push(msg);
  }
  return out;
}

/** UPDATEs withdrawing `nlri`: classic withdrawn field for IPv4 unicast, MP_UNREACH_NLRI otherwise. */
export function packWithdrawals(family: Family, nlri: Nlri[]): Buffer[] {
  const classic = family === "ipv4-unicast";
  const fixedLen = HEADER_LENGTH + 4 + (classic ? 0 : 4 + 3);
  const budget = MAX_MESSAGE_LENGTH - fixedLen;
  const scratch = Buffer.allocUnsafe(MAX_MESSAGE_LENGTH);
  const out: Buffer[] = [];
  let i = 0;
  while (i < nlri.length) {
    let used = 0;
    while (i < nlri.length && used + MAX_NLRI_BYTES <= budget) {
      used += encodeNlri(nlri[i]!, family, scratch, used);
      i++;
    }
    const total = fixedLen + used;
    const msg = Buffer.allocUnsafe(total);
    header(msg, total);
    let o = HEADER_LENGTH;
    if (classic) {
      msg.writeUInt16BE(used, o);
      scratch.copy(msg, o + 2, 0, used);
      msg.writeUInt16BE(0, o + 2 + used);
    } else {
      msg.writeUInt16BE(0, o);
      msg.writeUInt16BE(7 + used, o + 2);
      o += 4;
      msg[o] = AttrFlag.Optional | AttrFlag.ExtendedLength;
      msg[o + 1] = 15;
      msg.writeUInt16BE(3 + used, o + 2);
      const { afi, safi } = afiSafi(family);
      msg.writeUInt16BE(afi, o + 4);
      msg[o + 6] = safi;
      scratch.copy(msg, o + 7, 0, used);
    }
    out.push(msg);
  }
  return out;
}

/** RFC 4724 End-of-RIB: an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI otherwise. */
export function endOfRib(family: Family): Buffer {
  if (family === "ipv4-unicast") {
    const b = Buffer.alloc(23);
    header(b, 23);
    return b;
  }
  const b = Buffer.alloc(29);
  header(b, 29);
  b.writeUInt16BE(0, 19);
  b.writeUInt16BE(6, 21);
  b[23] = AttrFlag.Optional;
  b[24] = 15;
  b[25] = 3;
  const { afi, safi } = afiSafi(family);
  b.writeUInt16BE(afi, 26);
  b[28] = safi;
  return b;
}
