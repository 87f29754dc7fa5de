import { describe, expect, it } from "vitest";
import { encode, type Message, routeTarget, safeDecode } from "../../src/index.js";

// 100,000 mutated UPDATEs: the decoder must never throw, and every failure must carry an RFC 7606
// action and a NOTIFICATION code — never an "internal" error, which would mean a bounds check is missing.

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds: Message[] = [
  {
    type: "update",
    withdrawn: [{ prefix: "10.9.0.0/16" }],
    attributes: {
      origin: 0,
      asPath: [
        { type: 2, asns: [65001, 65002] },
        { type: 1, asns: [7, 8] },
      ],
      nextHop: "10.0.0.1",
      med: 10,
      localPref: 100,
      atomicAggregate: true,
      aggregator: { asn: 65001, address: "1.1.1.1" },
      communities: [1, 2],
      extendedCommunities: [routeTarget("65000:1")],
      largeCommunities: ["1:2:3"],
      unknown: [{ flags: 0xc0, type: 200, value: Buffer.from([1, 2, 3]) }],
    },
    nlri: [{ prefix: "10.1.0.0/16" }, { prefix: "10.2.3.0/24" }],
  },
  {
    type: "update",
    withdrawn: [],
    attributes: {
      origin: 0,
      asPath: [{ type: 2, asns: [65001] }],
      extendedCommunities: [routeTarget("65000:1")],
      mpReach: {
        family: "ipv4-vpn",
        nextHops: ["fd00::1"],
        nlri: [{ prefix: "10.1.0.0/16", rd: "65000:1", labels: [0xe0040] }],
      },
      prefixSid: {
        srv6L3Service: {
          sids: [
            {
              sid: "fd00:0:0:1::",
              flags: 0,
              behavior: 0x13,
              structure: {
                locatorBlockLength: 40,
                locatorNodeLength: 24,
                functionLength: 16,
                argumentLength: 0,
                transpositionLength: 16,
                transpositionOffset: 64,
              },
            },
          ],
        },
      },
    },
    nlri: [],
  },
  {
    type: "update",
    withdrawn: [],
    attributes: {
      origin: 2,
      asPath: [],
      mpReach: {
        family: "ipv6-unicast",
        nextHops: ["fd99::1", "fe80::1"],
        nlri: [{ prefix: "2001:db8::/32" }],
      },
      mpUnreach: {
        family: "ipv6-vpn",
        withdrawn: [{ prefix: "2001:db8:1::/48", rd: "1.2.3.4:5", labels: [] }],
      },
    },
    nlri: [],
  },
];

function mutate(src: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(src);
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const op = rnd();
    const pos = 19 + Math.floor(rnd() * Math.max(1, b.length - 19));
    if (op < 0.5) b[pos] = Math.floor(rnd() * 256);
    else if (op < 0.65) b[pos] = b[pos]! ^ (1 << Math.floor(rnd() * 8));
    else if (op < 0.8) b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1 + Math.floor(rnd() * 4))]);
    else if (op < 0.9)
      b = Buffer.concat([b.subarray(0, pos), Buffer.from([Math.floor(rnd() * 256)]), b.subarray(pos)]);
    else b = b.subarray(0, pos);
  }
  // Mostly keep the header honest so mutations reach the UPDATE decoder instead of dying at framing.
  if (b.length >= 19 && rnd() < 0.9) b.writeUInt16BE(b.length, 16);
  return b;
}

describe("fuzz: mutated UPDATEs", () => {
  it("100,000 mutations never throw and always map to an RFC 7606 action", () => {
    const rnd = prng(0x5eed);
    const encoded = seeds.map((m) => encode(m));
    const counts: Record<string, number> = {
      ok: 0,
      "treat-as-withdraw": 0,
      "attribute-discard": 0,
      "session-reset": 0,
    };
    const internal: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const input = mutate(encoded[i % encoded.length]!, rnd);
      const r = safeDecode(input);
      if (r.ok) {
        const m = r.message;
        if (m.type === "update" && m.treatAsWithdraw) counts["treat-as-withdraw"]!++;
        else if (m.type === "update" && m.errors) counts["attribute-discard"]!++;
        else counts.ok!++;
        for (const e of m.type === "update" ? (m.errors ?? []) : []) {
          expect(["treat-as-withdraw", "attribute-discard"]).toContain(e.action);
        }
      } else {
        counts[r.error.action]!++;
        expect(r.error.code).toBeGreaterThanOrEqual(1);
        expect(r.error.code).toBeLessThanOrEqual(7);
        if (r.error.message.startsWith("internal"))
          internal.push(`${r.error.message} <- ${input.toString("hex")}`);
      }
    }
    expect(internal.slice(0, 5)).toEqual([]);
    // Each outcome class must actually occur, or the mutator is not exercising the decoder.
    for (const k of Object.keys(counts)) expect(counts[k], k).toBeGreaterThan(100);
  });
});
