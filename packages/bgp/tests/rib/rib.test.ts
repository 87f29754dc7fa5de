import { describe, expect, it } from "vitest";
import { jitter, parseCommunity } from "../../src/index.js";
import { AttrInterner } from "../../src/rib/attrs.js";
import { type Candidate, compare } from "../../src/rib/best-path.js";
import { keyToNlri, prefixKey } from "../../src/rib/keys.js";
import { applySet, compilePolicy, evaluate } from "../../src/rib/policy.js";

const interner = new AttrInterner();

function cand(attrs: Parameters<AttrInterner["intern"]>[0], over: Partial<Candidate> = {}): Candidate {
  return {
    set: interner.intern(attrs, ["10.0.0.1"]),
    local: false,
    ebgp: true,
    peerRouterId: 1,
    peerAddress: "10.0.0.1",
    peerAs: 65001,
    ...over,
  };
}

describe("best path (RFC 4271 §9.1.2.2)", () => {
  const path = (asns: number[]) => [{ type: 2, asns }];
  it("prefers higher LOCAL_PREF over a shorter AS path", () => {
    expect(
      compare(cand({ localPref: 200, asPath: path([1, 2, 3]) }), cand({ localPref: 100, asPath: path([1]) })),
    ).toBeLessThan(0);
  });
  it("prefers the shorter AS path, counting an AS_SET as one", () => {
    const set = [
      { type: 2, asns: [1] },
      { type: 1, asns: [5, 6, 7] },
    ];
    expect(compare(cand({ asPath: set }), cand({ asPath: path([1, 2, 3]) }))).toBeLessThan(0);
  });
  it("prefers IGP over INCOMPLETE origin", () => {
    expect(
      compare(cand({ origin: 0, asPath: path([1]) }), cand({ origin: 2, asPath: path([1]) })),
    ).toBeLessThan(0);
  });
  it("compares MED only between routes from the same neighbour AS", () => {
    expect(compare(cand({ med: 5, asPath: path([7]) }), cand({ med: 10, asPath: path([7]) }))).toBeLessThan(
      0,
    );
    const diff = compare(
      cand({ med: 50, asPath: path([7]) }, { peerRouterId: 1 }),
      cand({ med: 10, asPath: path([8]) }, { peerRouterId: 2 }),
    );
    expect(diff).toBeLessThan(0); // MED ignored, lower router ID wins
  });
  it("prefers eBGP over iBGP, then the lower router ID", () => {
    expect(compare(cand({}, { ebgp: true }), cand({}, { ebgp: false }))).toBeLessThan(0);
    expect(compare(cand({}, { peerRouterId: 9 }), cand({}, { peerRouterId: 3 }))).toBeGreaterThan(0);
  });
  it("prefers a locally originated route", () => {
    expect(compare(cand({ asPath: [] }, { local: true }), cand({ asPath: [] }))).toBeLessThan(0);
  });
});

describe("compact RIB keys", () => {
  it("IPv4 unicast prefixes become numbers and come back unchanged", () => {
    for (const p of ["0.0.0.0/0", "10.1.2.0/24", "255.255.255.255/32", "192.0.2.128/25"]) {
      const k = prefixKey("ipv4-unicast", { prefix: p });
      expect(typeof k).toBe("number");
      expect(keyToNlri("ipv4-unicast", k)).toEqual({ prefix: p });
    }
  });
  it("VPN keys carry the route distinguisher", () => {
    const k = prefixKey("ipv4-vpn", { prefix: "10.0.0.0/8", rd: "65000:1" });
    expect(keyToNlri("ipv4-vpn", k, [16])).toEqual({ prefix: "10.0.0.0/8", rd: "65000:1", labels: [16] });
  });
});

describe("attribute interning", () => {
  it("routes with equal attributes share one object", () => {
    const i = new AttrInterner();
    const a = i.intern({ origin: 0, asPath: [{ type: 2, asns: [1] }], communities: [1] }, ["10.0.0.1"]);
    const b = i.intern({ communities: [1], asPath: [{ type: 2, asns: [1] }], origin: 0 }, ["10.0.0.1"]);
    const c = i.intern({ origin: 0, asPath: [{ type: 2, asns: [1] }], communities: [1] }, ["10.0.0.2"]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(Object.isFrozen(a.attrs)).toBe(true);
  });
});

describe("policy", () => {
  const attrs = { communities: [parseCommunity("65000:1")] };
  it("RFC 8212: no policy rejects everything for eBGP and accepts everything for iBGP", () => {
    expect(evaluate(compilePolicy(undefined, true), "ipv4-unicast", "10.0.0.0/8", {}).accept).toBe(false);
    expect(evaluate(compilePolicy(undefined, false), "ipv4-unicast", "10.0.0.0/8", {}).accept).toBe(true);
  });
  it("prefix matches honour ge/le ranges", () => {
    const p = compilePolicy(
      { rules: [{ match: { prefixes: ["10.0.0.0/8 ge 16 le 24"] }, action: "accept" }] },
      true,
    );
    expect(evaluate(p, "ipv4-unicast", "10.1.0.0/16", {}).accept).toBe(true);
    expect(evaluate(p, "ipv4-unicast", "10.1.1.0/24", {}).accept).toBe(true);
    expect(evaluate(p, "ipv4-unicast", "10.0.0.0/8", {}).accept).toBe(false);
    expect(evaluate(p, "ipv4-unicast", "10.1.1.1/32", {}).accept).toBe(false);
    expect(evaluate(p, "ipv4-unicast", "11.1.0.0/16", {}).accept).toBe(false);
  });
  it("community and family matches, first match wins, then the default", () => {
    const p = compilePolicy(
      {
        rules: [
          { match: { families: ["ipv6-unicast"] }, action: "reject" },
          {
            match: { communities: ["65000:1"] },
            action: "accept",
            set: { localPref: 300, communities: ["65000:2"], nextHop: "self" },
          },
        ],
        default: "reject",
      },
      true,
    );
    expect(evaluate(p, "ipv6-unicast", "2001:db8::/32", attrs).accept).toBe(false);
    const r = evaluate(p, "ipv4-unicast", "10.0.0.0/8", attrs);
    expect(r.accept).toBe(true);
    const out = applySet(r.rule, { ...attrs }, ["192.0.2.1"], () => ["10.9.9.9"]);
    expect(out).toEqual({
      attrs: { communities: [parseCommunity("65000:1"), parseCommunity("65000:2")], localPref: 300 },
      nextHops: ["10.9.9.9"],
    });
    expect(evaluate(p, "ipv4-unicast", "10.0.0.0/8", {}).accept).toBe(false);
  });
});

describe("timers", () => {
  it("jitter stays within 75–100% of the base (RFC 4271 §10)", () => {
    expect(jitter(120, () => 0)).toBe(90);
    expect(jitter(120, () => 0.999999)).toBeCloseTo(120, 3);
  });
});
