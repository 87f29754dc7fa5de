// Address arithmetic for PodCIDR pools, on BigInt so IPv4 and IPv6 share one code path.
import { isIPv4, isIPv6 } from "node:net";

export interface Cidr {
  family: 4 | 6;
  /** Network address as an integer. */
  base: bigint;
  prefix: number;
  /** Number of addresses in the block. */
  size: bigint;
  text: string;
}

export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.split("/");
  if (!addr || len === undefined || extra !== undefined || !/^\d+$/.test(len)) {
    throw new Error(`"${text}" is not a CIDR (expected address/prefix)`);
  }
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  if (family === 0) throw new Error(`"${text}": "${addr}" is not an IP address`);
  const bits = family === 4 ? 32 : 128;
  const prefix = Number(len);
  if (prefix > bits) throw new Error(`"${text}": prefix /${prefix} is longer than ${bits} bits`);
  const value = ipToBigInt(addr);
  const hostBits = BigInt(bits - prefix);
  const base = (value >> hostBits) << hostBits;
  if (base !== value) throw new Error(`"${text}" has host bits set (network is ${bigIntToIp(base, family)})`);
  return { family, base, prefix, size: 1n << hostBits, text: `${bigIntToIp(base, family)}/${prefix}` };
}

export function ipToBigInt(addr: string): bigint {
  if (isIPv4(addr)) {
    return addr.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  }
  if (!isIPv6(addr)) throw new Error(`"${addr}" is not an IP address`);
  let text = addr;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBigInt(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const headParts = head ? head.split(":") : [];
  const tailParts = tail ? tail.split(":") : [];
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array(tail === undefined ? 0 : missing).fill("0"), ...tailParts];
  return parts.reduce((acc, h) => (acc << 16n) | BigInt(Number.parseInt(h, 16)), 0n);
}

export function bigIntToIp(value: bigint, family: 4 | 6): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join(".");
  }
  const hextets: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) hextets.push(((value >> s) & 0xffffn).toString(16));
  // Canonical form (RFC 5952): compress the longest run of two or more zero hextets.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && hextets[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return hextets.join(":");
  return `${hextets.slice(0, best).join(":")}::${hextets.slice(best + bestLen).join(":")}`;
}

export function contains(cidr: Cidr, addr: string): boolean {
  const fam = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  if (fam !== cidr.family) return false;
  const v = ipToBigInt(addr);
  return v >= cidr.base && v < cidr.base + cidr.size;
}
