// Address and prefix arithmetic on bigints, so that IPv4 and IPv6 share one code path
// and containment/overlap checks are exact. Pure: no I/O, safe in the agent and the browser.
import ipaddr from "ipaddr.js";

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  value: bigint;
  /** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
  text: string;
}

export interface ParsedCidr {
  family: IpFamily;
  /** Network address (host bits cleared). */
  network: bigint;
  prefixLength: number;
  /** Canonical text of the network, e.g. `10.0.0.0/24`. */
  text: string;
  /** True when the input had bits set below the prefix length. */
  hostBitsSet: boolean;
}

const IPV4_OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_RE = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function bytesToBigint(bytes: number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

export function formatIp(family: IpFamily, value: bigint): string {
  const byteCount = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = byteCount - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parses a plain IPv4 (dotted quad only) or IPv6 address (no zone index); undefined if malformed. */
export function parseIp(text: string): ParsedIp | undefined {
  if (IPV4_RE.test(text)) {
    const value = bytesToBigint(text.split(".").map(Number));
    return { family: 4, value, text: formatIp(4, value) };
  }
  if (text.includes(":") && !text.includes("%") && ipaddr.IPv6.isValid(text)) {
    const value = bytesToBigint(ipaddr.IPv6.parse(text).toByteArray());
    return { family: 6, value, text: formatIp(6, value) };
  }
  return undefined;
}

export function prefixMask(family: IpFamily, prefixLength: number): bigint {
  const bits = BigInt(familyBits(family));
  const all = (1n << bits) - 1n;
  return (all >> BigInt(prefixLength)) ^ all;
}

/** Parses `addr/len`; undefined if malformed. Host bits are reported, not rejected, so callers can explain. */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9]\d{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > familyBits(ip.family)) return undefined;
  const network = ip.value & prefixMask(ip.family, prefixLength);
  return {
    family: ip.family,
    network,
    prefixLength,
    text: `${formatIp(ip.family, network)}/${prefixLength}`,
    hostBitsSet: network !== ip.value,
  };
}

/** Parses a CIDR or a bare address (taken as a host prefix /32 or /128). */
export function parsePrefixOrIp(text: string): ParsedCidr | undefined {
  if (text.includes("/")) return parseCidr(text);
  const ip = parseIp(text);
  if (!ip) return undefined;
  const prefixLength = familyBits(ip.family);
  return {
    family: ip.family,
    network: ip.value,
    prefixLength,
    text: `${ip.text}/${prefixLength}`,
    hostBitsSet: false,
  };
}

function requireCidr(text: string): ParsedCidr {
  const parsed = parsePrefixOrIp(text);
  if (!parsed) throw new Error(`"${text}" is not a valid CIDR`);
  return parsed;
}

/** Canonical text of a prefix given as CIDR or bare address; host bits are cleared. */
export function canonicalCidr(text: string): string {
  return requireCidr(text).text;
}

function containsParsed(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.family !== inner.family || inner.prefixLength < outer.prefixLength) return false;
  return (inner.network & prefixMask(outer.family, outer.prefixLength)) === outer.network;
}

/** True when the two prefixes share at least one address (one contains the other). */
export function cidrOverlaps(a: string, b: string): boolean {
  const pa = requireCidr(a);
  const pb = requireCidr(b);
  return containsParsed(pa, pb) || containsParsed(pb, pa);
}

/** True when `inner` (a CIDR or an address) lies entirely inside `cidr`. */
export function cidrContains(cidr: string, inner: string): boolean {
  return containsParsed(requireCidr(cidr), requireCidr(inner));
}

export function cidrSize(cidr: ParsedCidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefixLength);
}

/**
 * Smallest set of prefixes covering exactly the given prefixes: contained prefixes are dropped
 * and sibling halves are merged, e.g. 10.0.0.0/25 + 10.0.0.128/25 → 10.0.0.0/24.
 */
export function aggregateCidrs(cidrs: string[]): string[] {
  const parsed = cidrs.map(requireCidr);
  const result: string[] = [];
  for (const family of [4, 6] as const) {
    let work = parsed
      .filter((p) => p.family === family)
      .sort((a, b) =>
        a.network === b.network ? a.prefixLength - b.prefixLength : a.network < b.network ? -1 : 1,
      );
    let changed = true;
    while (changed) {
      changed = false;
      const next: ParsedCidr[] = [];
      for (const p of work) {
        const last = next[next.length - 1];
        if (last && containsParsed(last, p)) {
          changed = changed || last.text !== p.text;
          continue;
        }
        if (last && last.prefixLength === p.prefixLength && last.prefixLength > 0) {
          const parentLength = p.prefixLength - 1;
          const parentNetwork = last.network & prefixMask(family, parentLength);
          if (parentNetwork === last.network && parentNetwork + cidrSize(last) === p.network) {
            next[next.length - 1] = {
              family,
              network: parentNetwork,
              prefixLength: parentLength,
              text: `${formatIp(family, parentNetwork)}/${parentLength}`,
              hostBitsSet: false,
            };
            changed = true;
            continue;
          }
        }
        next.push(p);
      }
      work = next;
    }
    result.push(...work.map((p) => p.text));
  }
  return result;
}
