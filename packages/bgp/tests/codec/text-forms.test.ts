// The text forms operators type and read (communities, route targets, route distinguishers,
// addresses, prefixes), each checked against the wire bytes the RFCs define and at the edges of
// what is valid: a wrong boundary here puts a route in the wrong VPN or under the wrong key.
import { describe, expect, it } from "vitest";
import {
  canonicalPrefix,
  DecodeError,
  decodeRd,
  encodeRd,
  formatCommunity,
  formatExtendedCommunity,
  ipv6ToString,
  parseCommunity,
  parseIpv4,
  parseIpv6,
  routeTarget,
  splitPrefix,
} from "../../src/index.js";

/**
 * What `fn` threw. vitest's `toThrow("text")` and `toThrow(/re/)` also pass when `undefined` or
 * `null` is thrown (vitest 4.1), so a broken error constructor would go unseen: check the class.
 */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  throw new Error("expected a refusal, but it was accepted");
}

describe("communities (RFC 1997)", () => {
  it("reads ASN:value as the 32-bit value, unsigned, up to 65535:65535", () => {
    expect(parseCommunity("65000:100")).toBe(65000 * 65536 + 100);
    expect(parseCommunity("0:0")).toBe(0);
    expect(parseCommunity("65535:65535")).toBe(0xffffffff);
    expect(parseCommunity("1:0")).toBe(65536);
  });

  it("knows the well-known names in any case", () => {
    expect(parseCommunity("no-export")).toBe(0xffffff01);
    expect(parseCommunity("NO-ADVERTISE")).toBe(0xffffff02);
    expect(parseCommunity("No-Export-Subconfed")).toBe(0xffffff03);
    expect(parseCommunity("blackhole")).toBe(0xffff029a);
  });

  it("refuses a half out of range, a third part, a sign and words", () => {
    for (const bad of ["65536:0", "0:65536", "-1:0", "0:-1", "1:2:3", "a:b", "65000", "65000:a"]) {
      expect(
        thrown(() => parseCommunity(bad)),
        bad,
      ).toMatchObject({ name: "TypeError", message: `invalid community: ${bad}` });
    }
  });

  it("writes the value back as ASN:value", () => {
    expect(formatCommunity(0xffffff01)).toBe("65535:65281");
    expect(formatCommunity(65000 * 65536 + 100)).toBe("65000:100");
    expect(formatCommunity(0)).toBe("0:0");
  });
});

describe("route targets (RFC 4360, RFC 5668)", () => {
  it("picks the 2-octet AS, IPv4 or 4-octet AS form, at the 65535/65536 boundary", () => {
    expect(routeTarget("65000:1")).toBe("0002fde800000001");
    expect(routeTarget("65535:4294967295")).toBe("0002ffffffffffff");
    expect(routeTarget("65536:7")).toBe("0202000100000007");
    expect(routeTarget("4200000000:3")).toBe("0202fa56ea000003");
    expect(routeTarget("192.0.2.1:7")).toBe("0102c00002010007");
    // Site of origin is the same layout with subtype 3.
    expect(routeTarget("65000:1", 0x03)).toBe("0003fde800000001");
  });

  it("reads route targets and sites of origin back in words, other values as hex", () => {
    expect(formatExtendedCommunity("0002fde800000001")).toBe("rt:65000:1");
    expect(formatExtendedCommunity("0102c00002010007")).toBe("rt:192.0.2.1:7");
    expect(formatExtendedCommunity("0202fa56ea000003")).toBe("rt:4200000000:3");
    expect(formatExtendedCommunity("0003fde800000001")).toBe("soo:65000:1");
    expect(formatExtendedCommunity("0103c00002010007")).toBe("soo:192.0.2.1:7");
    // The non-transitive bit (0x40) does not change the layout.
    expect(formatExtendedCommunity("4002fde800000001")).toBe("rt:65000:1");
    // Another subtype, another type, a wrong length: shown as they are.
    expect(formatExtendedCommunity("0008fde800000001")).toBe("0008fde800000001");
    expect(formatExtendedCommunity("0302fde800000001")).toBe("0302fde800000001");
    expect(formatExtendedCommunity("0002fde8000001")).toBe("0002fde8000001");
  });
});

describe("route distinguishers (RFC 4364 §4.2)", () => {
  const wire = (rd: string) => {
    const b = Buffer.alloc(10, 0xaa);
    encodeRd(rd, b, 1);
    expect(b[0]).toBe(0xaa);
    expect(b[9]).toBe(0xaa);
    return b.subarray(1, 9).toString("hex");
  };

  it("writes type 0, 1 and 2, and an 'L' forces type 2 for a small ASN", () => {
    expect(wire("65000:1")).toBe("0000fde800000001");
    expect(wire("65535:4294967295")).toBe("0000ffffffffffff");
    expect(wire("65536:1")).toBe("0002000100000001");
    expect(wire("4294967295:65535")).toBe("0002ffffffffffff");
    expect(wire("192.0.2.1:5")).toBe("0001c00002010005");
    expect(wire("192.0.2.1:65535")).toBe("0001c0000201ffff");
    expect(wire("65000L:1")).toBe("00020000fde80001");
    expect(wire("0:0")).toBe("0000000000000000");
  });

  it("reads each type back to the text it was written from", () => {
    for (const rd of [
      "65000:1",
      "0:0",
      "65535:4294967295",
      "65536:1",
      "4294967295:65535",
      "192.0.2.1:5",
      "65000L:1",
      "65535L:9",
    ]) {
      const b = Buffer.alloc(8);
      encodeRd(rd, b, 0);
      expect(decodeRd(b, 0), rd).toBe(rd);
    }
  });

  it("refuses what does not fit its type", () => {
    for (const bad of [
      "65000",
      "192.0.2.1:65536",
      "192.0.2.1:-1",
      "65000:4294967296",
      "65000:-1",
      "65000:1.5",
      "-1:1",
      "4294967296:1",
      "65536:65536",
      "65000L:65536",
      "65536:-1",
      "x:1",
    ]) {
      expect(
        thrown(() => wire(bad)),
        bad,
      ).toMatchObject({ name: "TypeError", message: `invalid route distinguisher: ${bad}` });
    }
  });

  it("an unknown type in a received route is an NLRI error that resets the session", () => {
    const b = Buffer.from("0003000000000001", "hex");
    let err: unknown;
    try {
      decodeRd(b, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecodeError);
    expect(err).toMatchObject({ action: "session-reset", code: 3, subcode: 10 });
    expect((err as Error).message).toBe("unknown route distinguisher type 3");
  });
});

describe("addresses and prefixes", () => {
  const v6 = (text: string) => ipv6ToString(parseIpv6(text));

  it("writes IPv6 in the RFC 5952 form: longest zero run as '::', the first on ties, never one word", () => {
    expect(v6("2001:0db8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(v6("::")).toBe("::");
    expect(v6("::1")).toBe("::1");
    expect(v6("1::")).toBe("1::");
    expect(v6("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(v6("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1");
    expect(v6("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(v6("1:2:3:4:5:6:7:8")).toBe("1:2:3:4:5:6:7:8");
    expect(v6("FE80::ABCD")).toBe("fe80::abcd");
    expect(v6("::ffff:192.0.2.1")).toBe("::ffff:c000:201");
    expect(v6("1:2:3:4:5:6:7::")).toBe("1:2:3:4:5:6:7:0");
  });

  it("parses IPv6 into the buffer at the offset", () => {
    const out = new Uint8Array(18);
    parseIpv6("2001:db8::ff01", out, 1);
    expect(Buffer.from(out).toString("hex")).toBe("0020010db800000000000000000000ff0100");
  });

  it("refuses malformed IPv6", () => {
    for (const bad of [
      "1::2::3",
      ":::",
      "12345::",
      "g::",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "1.2.3.4",
      "1:2",
    ]) {
      expect(
        thrown(() => parseIpv6(bad)),
        bad,
      ).toMatchObject({ name: "TypeError", message: `invalid IPv6 address: ${bad}` });
    }
  });

  it("parses IPv4 and refuses anything but four decimal octets", () => {
    expect([...parseIpv4("192.0.2.255")]).toEqual([192, 0, 2, 255]);
    expect([...parseIpv4("0.0.0.0")]).toEqual([0, 0, 0, 0]);
    for (const bad of [
      "1.2.3",
      "1.2.3.4.5",
      "1.2.3.256",
      "1.2.3.a",
      "1.2.3.",
      "1.2.3.1234",
      " 1.2.3.4",
      "1.2.3.-1",
      "0x1.2.3.4",
    ]) {
      expect(
        thrown(() => parseIpv4(bad)),
        bad,
      ).toMatchObject({ name: "TypeError", message: `invalid IPv4 address: ${bad}` });
    }
  });

  it("a prefix has a length within its family", () => {
    expect(splitPrefix("10.0.0.0/8")).toEqual({ addr: "10.0.0.0", len: 8, v6: false });
    expect(splitPrefix("0.0.0.0/0")).toEqual({ addr: "0.0.0.0", len: 0, v6: false });
    expect(splitPrefix("10.0.0.1/32")).toEqual({ addr: "10.0.0.1", len: 32, v6: false });
    expect(splitPrefix("::/128")).toEqual({ addr: "::", len: 128, v6: true });
    expect(thrown(() => splitPrefix("10.0.0.0")).message).toBe("prefix without length: 10.0.0.0");
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/1.5", "10.0.0.0/x"]) {
      expect(
        thrown(() => splitPrefix(bad)),
        bad,
      ).toMatchObject({ name: "TypeError", message: `invalid prefix length: ${bad}` });
    }
  });

  it("canonical prefixes clear the host bits, so one route has one key", () => {
    expect(canonicalPrefix("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(canonicalPrefix("10.255.255.255/9")).toBe("10.128.0.0/9");
    expect(canonicalPrefix("10.1.2.3/32")).toBe("10.1.2.3/32");
    expect(canonicalPrefix("10.1.2.3/0")).toBe("0.0.0.0/0");
    expect(canonicalPrefix("192.168.255.255/23")).toBe("192.168.254.0/23");
    expect(canonicalPrefix("2001:db8:ffff::1/33")).toBe("2001:db8:8000::/33");
    expect(canonicalPrefix("2001:db8::ff/120")).toBe("2001:db8::/120");
  });
});
