// Address text <-> bytes without node:net so the hot NLRI path stays allocation-light and canonical
// (RFC 5952 for IPv6), which matters because prefixes are RIB keys.

export function ipv4ToString(buf: Uint8Array, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export function parseIpv4(text: string, out: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new TypeError(`invalid IPv4 address: ${text}`);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new TypeError(`invalid IPv4 address: ${text}`);
    out[offset + i] = n;
  }
  return out;
}

export function ipv6ToString(buf: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((buf[offset + i]! << 8) | buf[offset + i + 1]!);
  // Longest run of two or more zero words becomes "::" (first one on ties), per RFC 5952.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

export function parseIpv6(text: string, out: Uint8Array = new Uint8Array(16), offset = 0): Uint8Array {
  const fail = () => new TypeError(`invalid IPv6 address: ${text}`);
  let s = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) is rewritten as two hex words first.
  if (s.includes(".")) {
    const cut = s.lastIndexOf(":");
    if (cut < 0) throw fail();
    const b = parseIpv4(s.slice(cut + 1));
    s = `${s.slice(0, cut + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) throw fail();
  const parse = (h: string) =>
    h === ""
      ? []
      : h.split(":").map((w) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw fail();
          return Number.parseInt(w, 16);
        });
  const head = parse(halves[0]!);
  let words: number[];
  if (halves.length === 1) {
    if (head.length !== 8) throw fail();
    words = head;
  } else {
    const tail = parse(halves[1]!);
    const fill = 8 - head.length - tail.length;
    if (fill < 1) throw fail();
    words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  }
  for (let i = 0; i < 8; i++) {
    out[offset + 2 * i] = words[i]! >> 8;
    out[offset + 2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

export function isIpv6(text: string): boolean {
  return text.includes(":");
}

/** Splits "10.0.0.0/8" and checks the length against the family. */
export function splitPrefix(prefix: string): { addr: string; len: number; v6: boolean } {
  const slash = prefix.indexOf("/");
  if (slash < 0) throw new TypeError(`prefix without length: ${prefix}`);
  const addr = prefix.slice(0, slash);
  const len = Number(prefix.slice(slash + 1));
  const v6 = isIpv6(addr);
  if (!Number.isInteger(len) || len < 0 || len > (v6 ? 128 : 32))
    throw new TypeError(`invalid prefix length: ${prefix}`);
  return { addr, len, v6 };
}

/** Canonical text of a prefix: host bits cleared, so "10.1.2.3/8" and "10.0.0.0/8" are the same key. */
export function canonicalPrefix(prefix: string): string {
  const { addr, len, v6 } = splitPrefix(prefix);
  const bytes = v6 ? parseIpv6(addr) : parseIpv4(addr);
  maskBytes(bytes, len);
  return `${v6 ? ipv6ToString(bytes) : ipv4ToString(bytes)}/${len}`;
}

export function maskBytes(bytes: Uint8Array, len: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const bits = len - i * 8;
    if (bits >= 8) continue;
    bytes[i] = bits <= 0 ? 0 : bytes[i]! & (0xff << (8 - bits));
  }
}
