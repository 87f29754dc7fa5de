// Hostile input: at least 100,000 random and mutated messages through the proxy's whole query
// path (a real DnsProxy whose endpoint may look up nothing, so nothing is ever forwarded) and
// through the answer reader. Nothing may throw, every answer must be a DNS response to the query
// it answers, and a message that is not a well-formed query is never treated as one.
import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { checkQuery, RCODE, readAnswer } from "./message.js";
import { DnsProxy, PROTO_UDP } from "./proxy.js";
import { compileEndpointDns } from "./rules.js";

/** mulberry32: a seeded PRNG, so a failure is reproducible from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds: Buffer[] = [
  dnsPacket.encode({
    type: "query",
    id: 1,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: "A", name: "www.example.test" }],
  }),
  dnsPacket.encode({
    type: "query",
    id: 2,
    questions: [{ type: "AAAA", name: "a.b.c.corp.test" }],
    additionals: [
      {
        type: "OPT",
        name: ".",
        udpPayloadSize: 4096,
        flags: 0,
        options: [{ code: 10, data: Buffer.alloc(8) }],
      } as never,
    ],
  }),
  dnsPacket.encode({
    type: "response",
    id: 3,
    questions: [{ type: "A", name: "alias.other.test" }],
    answers: [
      { type: "CNAME", name: "alias.other.test", ttl: 5, data: "www.example.test" },
      { type: "A", name: "www.example.test", ttl: 5, data: "10.99.1.10" },
    ],
  }),
];
// A compression pointer that points at itself: a loop a naive decoder follows for ever.
const loop = Buffer.from(seeds[0]!);
loop.writeUInt16BE(0xc00c, 12);
seeds.push(loop);

function mutate(rand: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  const kind = Math.floor(rand() * 4);
  if (kind === 0) {
    // flip some bytes
    for (let i = 0, n = 1 + Math.floor(rand() * 6); i < n; i++)
      b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    return b;
  }
  if (kind === 1) return b.subarray(0, Math.floor(rand() * b.length)); // truncated
  if (kind === 2) {
    // counts rewritten: more questions / answers than the message holds
    b.writeUInt16BE(Math.floor(rand() * 65536), 4 + 2 * Math.floor(rand() * 4));
    return b;
  }
  const junk = Buffer.alloc(Math.floor(rand() * 600));
  for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
  return rand() < 0.5 ? junk : Buffer.concat([b, junk]);
}

describe("malformed DNS messages", () => {
  it("100,000 random and mutated queries: every one refused, FORMERR/NOTIMP or dropped, never a crash", async () => {
    const policy = compileEndpointDns({
      id: "t/p",
      namespace: "t",
      name: "p",
      labels: {},
      ipv4: "10.0.0.2",
      identity: 1000,
      policyEnforced: { ingress: false, egress: true },
      policies: [],
      entries: [],
      fqdnSelectors: [],
      dnsRules: [
        {
          ruleId: "t/p/egress[0]",
          ports: [{ port: 53, protocol: 0 }],
          allowed: [{ matchName: "nothing.invalid" }],
        },
      ],
    });
    let forwarded = 0;
    const proxy = new DnsProxy(
      {
        policyFor: () => policy,
        originalDestination: () => ({ address: "192.0.2.1", port: 53 }),
        learn: async () => {
          forwarded++;
        },
      },
      { datapathTimeoutMs: 100, upstreamTimeoutMs: 100, deniedResponse: "REFUSED" },
    );
    const rand = prng(0x5eed);
    const counts = { refused: 0, formerr: 0, notimp: 0, dropped: 0, other: 0 };
    const bad: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) {
      const msg = mutate(rand, seeds[i % seeds.length]!);
      const reply = await proxy.answer(msg, "10.0.0.2", 40000, PROTO_UDP);
      if (!reply) {
        counts.dropped++;
        continue;
      }
      // A reply is a response, to this message's id (checked without expect: 100,000 times).
      if (reply.readUInt16BE(0) !== msg.readUInt16BE(0) || !(reply.readUInt16BE(2) & 0x8000)) bad.push(msg);
      const rcode = reply.readUInt16BE(2) & 0x0f;
      if (rcode === RCODE.REFUSED) counts.refused++;
      else if (rcode === RCODE.FORMERR) counts.formerr++;
      else if (rcode === RCODE.NOTIMP) counts.notimp++;
      else counts.other++;
    }
    console.log("100,000 mutated messages:", counts, proxy.stats);
    expect(bad.map((b) => b.toString("hex")).slice(0, 3)).toEqual([]);
    expect(forwarded).toBe(0);
    expect(counts.other).toBe(0);
    expect(proxy.stats.queries).toBe(100_000);
    // The mix exercised every path.
    for (const k of ["refused", "formerr", "notimp", "dropped"] as const)
      expect(counts[k]).toBeGreaterThan(100);
  }, 120_000);

  it("20,000 mutated answers: the reader never throws and never reads addresses off the query's chain", () => {
    const rand = prng(0xa115);
    let read = 0;
    let bad = 0;
    for (let i = 0; i < 20_000; i++) {
      const msg = mutate(rand, seeds[2]!);
      const a = readAnswer(msg, 3, "alias.other.test");
      if (!a.ok) continue;
      read++;
      if (a.names[0] !== "alias.other.test" || a.addresses.some((x) => typeof x.address !== "string")) bad++;
    }
    expect(bad).toBe(0);
    expect(read).toBeGreaterThan(0);
  });

  it("a clean answer yields its CNAME chain and the chain's addresses; a loop ends", () => {
    expect(readAnswer(seeds[2]!, 3, "Alias.Other.Test.")).toEqual({
      ok: true,
      rcode: 0,
      names: ["alias.other.test", "www.example.test"],
      addresses: [{ address: "10.99.1.10", ttl: 5 }],
    });
    const looped = dnsPacket.encode({
      type: "response",
      id: 4,
      questions: [{ type: "A", name: "a.test" }],
      answers: [
        { type: "CNAME", name: "a.test", ttl: 5, data: "b.test" },
        { type: "CNAME", name: "b.test", ttl: 5, data: "a.test" },
        { type: "A", name: "c.test", ttl: 5, data: "192.0.2.9" },
      ],
    });
    expect(readAnswer(looped, 4, "a.test")).toEqual({
      ok: true,
      rcode: 0,
      names: ["a.test", "b.test"],
      addresses: [],
    });
    expect(readAnswer(looped, 5, "a.test").ok).toBe(false);
  });

  it("a query with a compression loop is FORMERR", () => {
    const c = checkQuery(loop);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.reply!.readUInt16BE(2) & 0x0f).toBe(RCODE.FORMERR);
  });
});
