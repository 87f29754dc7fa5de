import type { Family } from "../codec/families.js";
import type { Nlri } from "../codec/nlri.js";

// RIB keys. IPv4 unicast prefixes (the full-table case) become one number — addr * 64 + length —
// which V8 stores without a string per route; other families use short canonical strings.

export type RouteKey = number | string;

export function prefixKey(family: Family, n: Nlri): RouteKey {
  if (family === "ipv4-unicast") return ipv4Key(n.prefix);
  if (family === "ipv6-unicast") return n.prefix;
  return `${n.rd}|${n.prefix}`;
}

function ipv4Key(p: string): number {
  let addr = 0;
  let octet = 0;
  let i = 0;
  for (; i < p.length; i++) {
    const ch = p.charCodeAt(i);
    if (ch === 46) {
      addr = addr * 256 + octet;
      octet = 0;
    } else if (ch === 47) break;
    else octet = octet * 10 + (ch - 48);
  }
  addr = addr * 256 + octet;
  return addr * 64 + Number(p.slice(i + 1));
}

export function keyToNlri(family: Family, key: RouteKey, labels?: number[]): Nlri {
  if (typeof key === "number") {
    const len = key % 64;
    const a = Math.floor(key / 64);
    return { prefix: `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}` };
  }
  if (family === "ipv6-unicast") return { prefix: key };
  const bar = key.indexOf("|");
  return { prefix: key.slice(bar + 1), rd: key.slice(0, bar), labels: labels ?? [] };
}
