import { describe, expect, it } from "vitest";
import { encode, type Message, routeTarget, safeDecode } from "../../src/index.js";
import { updateBytes } from "./helpers.js";

// Two fuzzers. 100,000 randomly mutated UPDATEs: the decoder must never throw, and every failure
// must carry a NOTIFICATION code, never an "internal" error (a missing bounds check). And 100,000
// UPDATEs with one generated attribute error each, whose RFC 7606 action is known from the RFC
// (the oracle below, written from RFC 7606 §3 and §7 and RFC 8092 §6): the decoder must take
// exactly that action, not merely some action.

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
  it("100,000 mutations never throw and fail only with a NOTIFICATION code, never internally", () => {
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

type Action = "treat-as-withdraw" | "attribute-discard" | "session-reset";

interface Attr {
  flags: number;
  type: number;
  value: Buffer;
}

/** RFC 4271 §5 flags and the RFC 7606 §7 action for a malformed instance, per attribute. */
const RFC: Record<number, { name: string; flags: number; action: Action; length?: number; unit?: number }> = {
  1: { name: "ORIGIN", flags: 0x40, action: "treat-as-withdraw", length: 1 },
  2: { name: "AS_PATH", flags: 0x40, action: "treat-as-withdraw" },
  3: { name: "NEXT_HOP", flags: 0x40, action: "treat-as-withdraw", length: 4 },
  4: { name: "MULTI_EXIT_DISC", flags: 0x80, action: "treat-as-withdraw", length: 4 },
  // §7.5: from an internal peer; the codec does not know the peer, so it takes the stricter action.
  5: { name: "LOCAL_PREF", flags: 0x40, action: "treat-as-withdraw", length: 4 },
  6: { name: "ATOMIC_AGGREGATE", flags: 0x40, action: "attribute-discard", length: 0 },
  // Over a 4-octet-AS session (RFC 6793): 4-octet ASN and address.
  7: { name: "AGGREGATOR", flags: 0xc0, action: "attribute-discard", length: 8 },
  8: { name: "COMMUNITIES", flags: 0xc0, action: "treat-as-withdraw", unit: 4 },
  9: { name: "ORIGINATOR_ID", flags: 0x80, action: "treat-as-withdraw", length: 4 },
  10: { name: "CLUSTER_LIST", flags: 0x80, action: "treat-as-withdraw", unit: 4 },
  16: { name: "EXTENDED_COMMUNITIES", flags: 0xc0, action: "treat-as-withdraw", unit: 8 },
  32: { name: "LARGE_COMMUNITY", flags: 0xc0, action: "treat-as-withdraw", unit: 12 },
};

function bytes(rnd: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
}

/** A well-formed attribute set: the three mandatory ones and a random choice of the rest. */
function wellFormed(rnd: () => number): Attr[] {
  const asPath = Buffer.from([2, 1, 0, 0, 0xfd, 0xe9]); // AS_SEQUENCE [65001], 4-octet ASNs
  const attrs: Attr[] = [
    { flags: 0x40, type: 1, value: Buffer.from([Math.floor(rnd() * 3)]) },
    { flags: 0x40, type: 2, value: asPath },
    { flags: 0x40, type: 3, value: Buffer.from([10, 0, 0, 1]) },
  ];
  for (const type of [4, 5, 6, 7, 8, 9, 10, 16, 32]) {
    if (rnd() < 0.5) continue;
    const { flags, length, unit } = RFC[type]!;
    attrs.push({ flags, type, value: bytes(rnd, length ?? unit! * (1 + Math.floor(rnd() * 3))) });
  }
  // Any order is legal (RFC 7606 §5.1 only asks senders to keep MP_* first).
  for (let i = attrs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [attrs[i], attrs[j]] = [attrs[j]!, attrs[i]!];
  }
  return attrs;
}

function wrongLength(rnd: () => number, rule: { length?: number; unit?: number }): number {
  for (;;) {
    const n = Math.floor(rnd() * 40);
    if (rule.length !== undefined ? n !== rule.length : n === 0 || n % rule.unit! !== 0) return n;
  }
}

const KINDS = ["flags", "length", "origin-value", "as-path-segment", "repeat", "missing"] as const;
type Kind = (typeof KINDS)[number];

/** One error put into a well-formed set, and the action RFC 7606 requires for it. */
function withOneError(rnd: () => number): { kind: Kind; attrs: Attr[]; action: Action; subcode?: number } {
  const attrs = wellFormed(rnd);
  const kind = KINDS[Math.floor(rnd() * KINDS.length)]!;
  const pick = () => Math.floor(rnd() * attrs.length);
  switch (kind) {
    case "flags": {
      // §3(c): an Optional or Transitive bit in conflict with the attribute's definition.
      const i = pick();
      const a = attrs[i]!;
      attrs[i] = { ...a, flags: a.flags ^ (rnd() < 0.5 ? 0x80 : 0x40) };
      return { kind, attrs, action: RFC[a.type]!.action, subcode: 4 };
    }
    case "length": {
      const candidates = attrs.map((_, i) => i).filter((i) => attrs[i]!.type !== 2);
      const i = candidates[Math.floor(rnd() * candidates.length)]!;
      const a = attrs[i]!;
      attrs[i] = { ...a, value: bytes(rnd, wrongLength(rnd, RFC[a.type]!)) };
      return { kind, attrs, action: RFC[a.type]!.action };
    }
    case "origin-value": {
      // §7.1: an undefined ORIGIN value.
      const i = attrs.findIndex((a) => a.type === 1);
      attrs[i] = { ...attrs[i]!, value: Buffer.from([3 + Math.floor(rnd() * 253)]) };
      return { kind, attrs, action: "treat-as-withdraw", subcode: 6 };
    }
    case "as-path-segment": {
      // §7.2: an undefined segment type, or a segment of length zero.
      const i = attrs.findIndex((a) => a.type === 2);
      const bad =
        rnd() < 0.5 ? Buffer.from([5 + Math.floor(rnd() * 250), 1, 0, 0, 0xfd, 0xe9]) : Buffer.from([2, 0]);
      attrs[i] = { ...attrs[i]!, value: bad };
      return { kind, attrs, action: "treat-as-withdraw", subcode: 11 };
    }
    case "repeat": {
      // §3(g): a repeated attribute (other than MP_REACH/MP_UNREACH) is discarded.
      const a = attrs[pick()]!;
      attrs.push({ ...a, value: Buffer.from(a.value) });
      return { kind, attrs, action: "attribute-discard" };
    }
    case "missing": {
      // §3(d): a missing well-known mandatory attribute, with NLRI present.
      const type = 1 + Math.floor(rnd() * 3);
      const i = attrs.findIndex((a) => a.type === type);
      attrs.splice(i, 1);
      return { kind, attrs, action: "treat-as-withdraw", subcode: 3 };
    }
  }
}

function attrBytes(attrs: Attr[]): Buffer {
  return Buffer.concat(
    attrs.map((a) => Buffer.concat([Buffer.from([a.flags, a.type, a.value.length]), a.value])),
  );
}

describe("fuzz: generated attribute errors", () => {
  it("100,000 UPDATEs with one attribute error each get exactly the RFC 7606 action for it", () => {
    const rnd = prng(0x7606);
    const seen = new Map<string, number>();
    const wrong: string[] = [];
    const nlri = Buffer.from([24, 10, 9, 0]);
    for (let i = 0; i < 100_000; i++) {
      const { kind, attrs, action, subcode } = withOneError(rnd);
      const input = updateBytes(Buffer.alloc(0), attrBytes(attrs), nlri);
      const r = safeDecode(input);
      const got = r.ok ? (r.message.type === "update" ? r.message.errors?.[0] : undefined) : r.error;
      const withdrawn = r.ok && r.message.type === "update" && r.message.treatAsWithdraw === true;
      const ok =
        got !== undefined &&
        got.action === action &&
        got.code === 3 &&
        (subcode === undefined || got.subcode === subcode) &&
        r.ok === (action !== "session-reset") &&
        withdrawn === (action === "treat-as-withdraw");
      if (!ok && wrong.length < 5)
        wrong.push(
          `${kind}: expected ${action}, got ${got?.action ?? "none"} (${got?.message}) <- ${input.toString("hex")}`,
        );
      seen.set(`${kind} ${action}`, (seen.get(`${kind} ${action}`) ?? 0) + 1);
    }
    expect(wrong).toEqual([]);
    // Every kind of error, and each action, was generated often.
    for (const k of KINDS)
      expect([...seen].filter(([key]) => key.startsWith(`${k} `)).length, k).toBeGreaterThan(0);
    for (const [key, n] of seen) expect(n, key).toBeGreaterThan(500);
    expect(new Set([...seen.keys()].map((k) => k.split(" ")[1]))).toEqual(
      new Set(["treat-as-withdraw", "attribute-discard"]),
    );
  });
});
