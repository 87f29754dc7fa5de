import { describe, expect, it } from "vitest";
import { VERDICT } from "./layout";
import { compilePolicy, portRangeToPrefixes } from "./policy";

describe("port ranges", () => {
  it("a single port is one full-length prefix", () => {
    expect(portRangeToPrefixes(80, 80)).toEqual([{ port: 80, bits: 16 }]);
  });

  it("splits a range into the fewest aligned blocks that cover exactly it", () => {
    // 8000 = 0x1f40 is 64-aligned: 8000-8063, 8064-8095, 8096-8099, 8100.
    expect(portRangeToPrefixes(8000, 8100)).toEqual([
      { port: 8000, bits: 10 },
      { port: 8064, bits: 11 },
      { port: 8096, bits: 14 },
      { port: 8100, bits: 16 },
    ]);
    for (const [lo, hi] of [
      [0, 65535],
      [1, 1023],
      [8000, 8100],
      [1024, 2047],
      [65535, 65535],
      [30000, 32767],
    ] as const) {
      const blocks = portRangeToPrefixes(lo, hi);
      const covered: number[] = [];
      for (const b of blocks) {
        const size = 2 ** (16 - b.bits);
        expect(b.port % size).toBe(0);
        for (let p = b.port; p < b.port + size; p++) covered.push(p);
      }
      expect(covered).toEqual(Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));
    }
    expect(portRangeToPrefixes(0, 65535)).toEqual([{ port: 0, bits: 0 }]);
    expect(portRangeToPrefixes(1024, 2047)).toEqual([{ port: 1024, bits: 6 }]);
  });

  it("refuses ranges outside 0-65535 or upside down", () => {
    expect(() => portRangeToPrefixes(10, 9)).toThrow(RangeError);
    expect(() => portRangeToPrefixes(0, 65536)).toThrow(RangeError);
  });
});

describe("compilePolicy", () => {
  it("is deterministic and de-duplicates", () => {
    const rules = [
      {
        direction: "ingress" as const,
        identity: 5,
        protocol: "tcp" as const,
        port: 80,
        verdict: "allow" as const,
        ruleId: 2,
      },
      {
        direction: "ingress" as const,
        identity: 5,
        protocol: "tcp" as const,
        port: 80,
        verdict: "allow" as const,
        ruleId: 1,
      },
    ];
    const a = compilePolicy(9, rules);
    expect(a).toEqual(compilePolicy(9, [...rules].reverse()));
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ epId: 9, identity: 5, protocol: 6, port: 80, prefixlen: 96, ruleId: 1 });
  });

  it("drops an allow that a deny of the same identity covers, keeps one a deny only overlaps", () => {
    const entries = compilePolicy(1, [
      { direction: "ingress", identity: 5, protocol: "tcp", port: 80, verdict: "allow", ruleId: 1 },
      {
        direction: "ingress",
        identity: 5,
        protocol: "tcp",
        port: 0,
        endPort: 1023,
        verdict: "deny",
        ruleId: 2,
      },
      { direction: "ingress", identity: 5, protocol: "tcp", port: 8080, verdict: "allow", ruleId: 3 },
      { direction: "ingress", identity: 6, protocol: "tcp", port: 80, verdict: "allow", ruleId: 4 },
    ]);
    expect(entries.filter((e) => e.verdict === VERDICT.ALLOW).map((e) => e.ruleId)).toEqual([3, 4]);
    expect(entries.find((e) => e.verdict === VERDICT.DENY)).toMatchObject({ port: 0, prefixlen: 86 });
  });

  it("the same key as allow and deny is a deny", () => {
    const [e, ...rest] = compilePolicy(1, [
      { direction: "egress", identity: 0, protocol: "udp", port: 53, verdict: "allow", ruleId: 1 },
      { direction: "egress", identity: 0, protocol: "udp", port: 53, verdict: "deny", ruleId: 2 },
    ]);
    expect(rest).toHaveLength(0);
    expect(e).toMatchObject({ verdict: VERDICT.DENY, ruleId: 2 });
  });

  it("a port with protocol any expands to TCP, UDP and SCTP; no port means the protocol or L3 prefix", () => {
    const any = compilePolicy(1, [
      { direction: "ingress", identity: 3, port: 53, verdict: "allow", ruleId: 1 },
    ]);
    expect(any.map((e) => e.protocol).sort((a, b) => a - b)).toEqual([6, 17, 132]);
    expect(any.every((e) => e.port === 53 && e.prefixlen === 96)).toBe(true);
    expect(
      compilePolicy(1, [
        { direction: "ingress", identity: 3, protocol: "icmp", verdict: "allow", ruleId: 1 },
      ])[0],
    ).toMatchObject({ protocol: 1, prefixlen: 80 });
    expect(
      compilePolicy(1, [{ direction: "ingress", identity: 3, verdict: "allow", ruleId: 1 }])[0],
    ).toMatchObject({ protocol: 0, prefixlen: 72 });
  });
});
