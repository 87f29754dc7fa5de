// The TypeScript layouts must match the C structs byte for byte: compare them with the
// BTF that clang emitted into the built objects.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { bpfDir, objectPath, programs } from "@meridian/bpf";
import { describe, expect, it } from "vitest";
import { allLayouts, endpointKey, formatAddr, ipcacheKey, parseAddr, parseCidr, REASON } from "./layout";

interface BtfStruct {
  size: number;
  members: { name: string; bitsOffset: number }[];
}

function btfStructs(file: string): Map<string, BtfStruct> {
  let raw: string;
  try {
    raw = execFileSync("bpftool", ["btf", "dump", "file", file, "format", "raw"], {
      maxBuffer: 64 << 20,
    }).toString();
  } catch (err) {
    throw new Error(`bpftool cannot read BTF of ${file} (build bpf/ first; needs bpftool): ${String(err)}`);
  }
  const out = new Map<string, BtfStruct>();
  let cur: BtfStruct | null = null;
  for (const line of raw.split("\n")) {
    const head = line.match(/^\[\d+\] STRUCT '([^']+)' size=(\d+)/);
    if (head?.[1] && head[2]) {
      cur = { size: Number(head[2]), members: [] };
      out.set(head[1], cur);
      continue;
    }
    if (/^\[\d+\]/.test(line)) {
      cur = null;
      continue;
    }
    const mem = line.match(/^\s+'([^']*)' type_id=\d+ bits_offset=(\d+)/);
    if (cur && mem?.[1] !== undefined && mem[2])
      cur.members.push({ name: mem[1], bitsOffset: Number(mem[2]) });
  }
  return out;
}

describe("layouts match the BTF of the built objects", () => {
  const structs = new Map<string, BtfStruct>();
  for (const p of programs) for (const [k, v] of btfStructs(objectPath(p))) structs.set(k, v);

  for (const layout of allLayouts) {
    it(`struct ${layout.cName}: size and every field offset`, () => {
      const btf = structs.get(layout.cName);
      expect(btf, `struct ${layout.cName} not found in BTF`).toBeDefined();
      if (!btf) return;
      expect(layout.size).toBe(btf.size);
      expect(layout.fields.map((f) => [f.name, f.offset * 8])).toEqual(
        btf.members.map((m) => [m.name, m.bitsOffset]),
      );
    });
  }
});

describe("drop reasons match the C headers", () => {
  it("every DROP_* of bpf/lib/*.h is in REASON with its number, and every REASON drop is in a header", () => {
    const lib = path.join(bpfDir, "lib");
    const inC = new Map<string, number>();
    for (const f of readdirSync(lib).filter((n) => n.endsWith(".h")))
      for (const m of readFileSync(path.join(lib, f), "utf8").matchAll(/^#define DROP_(\w+) (\d+)/gm))
        if (!m[1]!.startsWith("EVENTS_")) inC.set(m[1]!, Number(m[2])); // DROP_EVENTS_*: the event rate limit
    const notDrops = new Set(["FORWARDED", "EVENTS_SUPPRESSED", "REDIRECTED", "EVENTS_LOST"]);
    const inTs = new Map(Object.entries(REASON).filter(([k]) => !notDrops.has(k)));
    expect(Object.fromEntries(inTs)).toEqual(Object.fromEntries(inC));
  });
});

describe("codec", () => {
  it("round-trips a struct, also at an offset inside a larger buffer", () => {
    const key = { addr: parseAddr("10.1.2.3").bytes, family: 4 };
    const buf = endpointKey.encode(key);
    expect(buf.length).toBe(20);
    expect(endpointKey.decode(buf)).toMatchObject({ family: 4 });
    const big = Buffer.alloc(64, 0xff);
    endpointKey.encode(key, big, 7);
    expect(endpointKey.decode(big, 7).addr.equals(buf.subarray(0, 16))).toBe(true);
    expect(big[6]).toBe(0xff);
    expect(big[27]).toBe(0xff);
    expect(() => endpointKey.decode(Buffer.alloc(19))).toThrow(RangeError);
  });

  it("addresses: IPv4 in the first four bytes, IPv6 in all sixteen, printed back canonically", () => {
    expect([...parseAddr("10.1.2.3").bytes.subarray(0, 5)]).toEqual([10, 1, 2, 3, 0]);
    for (const a of ["fd00:1::10", "::1", "2001:db8:0:1::", "fe80::1:2:3:4", "1:2:3:4:5:6:7:8"]) {
      expect(formatAddr(6, parseAddr(a).bytes)).toBe(a);
    }
    expect(formatAddr(6, parseAddr("::ffff:10.0.0.1").bytes)).toBe("::ffff:a00:1");
  });

  it("CIDRs zero their host bits and become LPM prefix lengths after the family word", () => {
    const c = parseCidr("10.9.255.255/16");
    expect(formatAddr(4, c.bytes)).toBe("10.9.0.0");
    const k = ipcacheKey.decode(ipcacheKey.encode({ prefixlen: 32 + c.prefix, family: 4, addr: c.bytes }));
    expect(k.prefixlen).toBe(48);
    expect(formatAddr(6, parseCidr("fd00:1:2:3::5/48").bytes)).toBe("fd00:1:2::");
    expect(() => parseCidr("10.0.0.0/33")).toThrow(TypeError);
  });
});
