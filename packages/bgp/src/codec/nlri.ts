import { DecodeError } from "./errors.js";
import { type Family, isV6, isVpn } from "./families.js";
import { ipv4ToString, ipv6ToString, maskBytes, parseIpv4, parseIpv6, splitPrefix } from "./ip.js";
import { decodeRd, encodeRd, RD_LENGTH } from "./rd.js";
import type { Reader } from "./reader.js";

/**
 * One NLRI. Unicast: just the prefix. VPN (RFC 4364/4659): prefix + route distinguisher + labels
 * (20-bit values; an empty list is the RFC 3107 withdrawal label 0x800000).
 */
export interface Nlri {
  prefix: string;
  rd?: string;
  labels?: number[];
}

const WITHDRAW_LABEL = 0x800000;
const scratch = new Uint8Array(16);

function prefixBytes(len: number): number {
  return (len + 7) >> 3;
}

export function nlriEncodingLength(n: Nlri, family: Family): number {
  const { len } = splitPrefix(n.prefix);
  if (!isVpn(family)) return 1 + prefixBytes(len);
  const labels = Math.max(1, n.labels?.length ?? 0);
  return 1 + 3 * labels + RD_LENGTH + prefixBytes(len);
}

export function encodeNlri(n: Nlri, family: Family, buf: Buffer, offset: number): number {
  const { addr, len, v6 } = splitPrefix(n.prefix);
  if (v6 !== isV6(family)) throw new TypeError(`prefix ${n.prefix} does not belong to ${family}`);
  const bytes = v6 ? parseIpv6(addr, scratch) : parseIpv4(addr, scratch);
  maskBytes(bytes.subarray(0, v6 ? 16 : 4), len);
  let o = offset;
  if (isVpn(family)) {
    const labels = n.labels && n.labels.length > 0 ? n.labels : null;
    const labelBytes = 3 * (labels?.length ?? 1);
    buf[o++] = len + 8 * (labelBytes + RD_LENGTH);
    if (labels) {
      labels.forEach((l, i) => {
        const v = ((l & 0xfffff) << 4) | (i === labels.length - 1 ? 1 : 0);
        buf.writeUIntBE(v, o, 3);
        o += 3;
      });
    } else {
      buf.writeUIntBE(WITHDRAW_LABEL, o, 3);
      o += 3;
    }
    if (!n.rd) throw new TypeError(`VPN route ${n.prefix} needs a route distinguisher`);
    encodeRd(n.rd, buf, o);
    o += RD_LENGTH;
  } else {
    buf[o++] = len;
  }
  const pb = prefixBytes(len);
  for (let i = 0; i < pb; i++) buf[o++] = bytes[i]!;
  return o - offset;
}

function badNlri(msg: string): DecodeError {
  // RFC 7606 §5.3: if NLRI cannot be parsed, nothing after it can be trusted either.
  return new DecodeError(msg, "session-reset", 3, 10);
}

/**
 * Decodes NLRI until the reader is exhausted. In a withdrawal (MP_UNREACH) a VPN NLRI carries
 * exactly one 3-octet label field whatever its value (RFC 8277 §2.4: senders use 0x800000, FRR
 * sends 0x000000; without the Multiple Labels capability there is never more than one), so its
 * bottom-of-stack bit is not looked at.
 */
export function decodeNlriList(
  r: Reader,
  family: Family,
  out: Nlri[] = [],
  opts: { withdrawal?: boolean } = {},
): Nlri[] {
  const v6 = isV6(family);
  const maxLen = v6 ? 128 : 32;
  const vpn = isVpn(family);
  while (r.remaining > 0) {
    let bits = r.u8("NLRI prefix length");
    let labels: number[] | undefined;
    let rd: string | undefined;
    if (vpn) {
      labels = [];
      for (;;) {
        if (bits < 24) throw badNlri(`VPN NLRI length ${bits} too short for a label`);
        r.need(3, "VPN label");
        const raw = r.buf.readUIntBE(r.pos, 3);
        r.pos += 3;
        bits -= 24;
        if (raw === WITHDRAW_LABEL || opts.withdrawal) break;
        labels.push(raw >>> 4);
        if (raw & 1) break;
      }
      if (bits < 64) throw badNlri(`VPN NLRI length leaves ${bits} bits, less than a route distinguisher`);
      r.need(RD_LENGTH, "route distinguisher");
      rd = decodeRd(r.buf, r.pos);
      r.pos += RD_LENGTH;
      bits -= 64;
    }
    if (bits > maxLen) throw badNlri(`prefix length ${bits} exceeds ${maxLen} for ${family}`);
    const pb = prefixBytes(bits);
    if (r.remaining < pb) throw badNlri(`NLRI prefix of /${bits} truncated: ${r.remaining} bytes left`);
    let prefix: string;
    if (!v6 && bits === 24) {
      // The common case in full tables; no scratch copy.
      const b = r.buf;
      const p = r.pos;
      prefix = `${b[p]}.${b[p + 1]}.${b[p + 2]}.0/24`;
    } else {
      scratch.fill(0);
      for (let i = 0; i < pb; i++) scratch[i] = r.buf[r.pos + i]!;
      maskBytes(scratch.subarray(0, v6 ? 16 : 4), bits);
      prefix = `${v6 ? ipv6ToString(scratch) : ipv4ToString(scratch)}/${bits}`;
    }
    r.pos += pb;
    out.push(vpn ? { prefix, rd: rd!, labels: labels! } : { prefix });
  }
  return out;
}
