import { describe, expect, it } from "vitest";
import { aggregateCidrs, canonicalCidr, cidrContains, cidrOverlaps } from "./ip";

describe("cidrOverlaps", () => {
  it("is true when one prefix contains the other, in either order", () => {
    expect(cidrOverlaps("10.0.0.0/8", "10.1.0.0/16")).toBe(true);
    expect(cidrOverlaps("10.1.0.0/16", "10.0.0.0/8")).toBe(true);
    expect(cidrOverlaps("2001:db8::/32", "2001:db8:1::/48")).toBe(true);
  });

  it("is false for neighbours and across families", () => {
    expect(cidrOverlaps("10.0.0.0/24", "10.0.1.0/24")).toBe(false);
    expect(cidrOverlaps("0.0.0.0/0", "::/0")).toBe(false);
  });
});

describe("cidrContains", () => {
  it("checks an address or a prefix against a CIDR", () => {
    expect(cidrContains("10.0.0.0/24", "10.0.0.255")).toBe(true);
    expect(cidrContains("10.0.0.0/24", "10.0.1.0")).toBe(false);
    expect(cidrContains("10.0.0.0/8", "10.96.0.0/12")).toBe(true);
    expect(cidrContains("10.96.0.0/12", "10.0.0.0/8")).toBe(false);
  });

  it("throws on malformed input rather than answering", () => {
    expect(() => cidrContains("10.0.0.0/33", "10.0.0.1")).toThrow('"10.0.0.0/33" is not a valid CIDR');
  });
});

describe("canonicalCidr and aggregateCidrs", () => {
  it("clears host bits and writes IPv6 in RFC 5952 form", () => {
    expect(canonicalCidr("2001:0db8:0000::1/64")).toBe("2001:db8::/64");
    expect(canonicalCidr("192.0.2.7")).toBe("192.0.2.7/32");
  });

  it("merges sibling halves and drops contained prefixes", () => {
    expect(aggregateCidrs(["10.0.0.128/25", "10.0.0.0/25", "10.0.0.7/32", "10.0.2.0/24"])).toEqual([
      "10.0.0.0/24",
      "10.0.2.0/24",
    ]);
    expect(aggregateCidrs(["10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"])).toEqual([
      "10.0.0.0/30",
    ]);
  });
});
