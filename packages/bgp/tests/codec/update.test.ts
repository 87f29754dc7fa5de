import { describe, expect, it } from "vitest";
import {
  decode,
  encode,
  endOfRib,
  formatExtendedCommunity,
  packAnnouncements,
  packWithdrawals,
  parseCommunity,
  reconstructAsPath,
  routeTarget,
  type UpdateMessage,
} from "../../src/index.js";
import { hex, roundTrip, updateBytes } from "./helpers.js";

const base = { origin: 0, asPath: [{ type: 2, asns: [65001, 4200000000] }], nextHop: "10.0.0.1" };

function decodeUpdate(b: Buffer, as4 = true): UpdateMessage {
  const m = decode(b, 0, { as4 });
  if (m.type !== "update") throw new Error("not an update");
  return m;
}

describe("UPDATE attributes", () => {
  it("round-trips every well-known and optional attribute we understand", () => {
    roundTrip({
      type: "update",
      withdrawn: [{ prefix: "192.0.2.0/24" }],
      attributes: {
        ...base,
        med: 50,
        localPref: 200,
        atomicAggregate: true,
        aggregator: { asn: 4200000000, address: "10.0.0.9" },
        communities: [parseCommunity("65000:100"), parseCommunity("no-export")],
        originatorId: "1.1.1.1",
        clusterList: ["2.2.2.2"],
        extendedCommunities: [
          routeTarget("65000:1"),
          routeTarget("192.0.2.1:7"),
          routeTarget("4200000000:3"),
        ],
        largeCommunities: ["4200000000:1:2"],
        unknown: [{ flags: 0xe0, type: 99, value: hex("deadbeef") }],
      },
      nlri: [{ prefix: "10.1.0.0/16" }, { prefix: "0.0.0.0/0" }, { prefix: "10.9.9.9/32" }],
    });
  });

  it("writes ORIGIN, AS_PATH, NEXT_HOP with the RFC 4271 flag bytes", () => {
    const b = encode({
      type: "update",
      withdrawn: [],
      attributes: { origin: 2, asPath: [], nextHop: "1.2.3.4" },
      nlri: [],
    });
    expect(b.subarray(23).toString("hex")).toBe("40010102" + "400200" + "40030401020304");
  });

  it("route targets read back in words", () => {
    expect(formatExtendedCommunity(routeTarget("65000:1"))).toBe("rt:65000:1");
    expect(formatExtendedCommunity(routeTarget("192.0.2.1:7"))).toBe("rt:192.0.2.1:7");
    expect(formatExtendedCommunity(routeTarget("4200000000:3"))).toBe("rt:4200000000:3");
  });

  it("uses the extended-length flag for attributes over 255 bytes", () => {
    const communities = Array.from({ length: 100 }, (_, i) => i);
    const b = encode({ type: "update", withdrawn: [], attributes: { ...base, communities }, nlri: [] });
    const idx = b.indexOf(Buffer.from([0xd0, 0x08]));
    expect(idx).toBeGreaterThan(0);
    expect(b.readUInt16BE(idx + 2)).toBe(400);
    roundTrip({ type: "update", withdrawn: [], attributes: { ...base, communities }, nlri: [] });
  });

  it("over a 2-octet session writes AS_TRANS and AS4_PATH, and merges them back (RFC 6793)", () => {
    const b = encode(
      { type: "update", withdrawn: [], attributes: base, nlri: [{ prefix: "10.0.0.0/8" }] },
      { as4: false },
    );
    const m = decodeUpdate(b, false);
    expect(m.attributes.asPath).toEqual([{ type: 2, asns: [65001, 23456] }]);
    expect(m.attributes.as4Path).toEqual([{ type: 2, asns: [65001, 4200000000] }]);
    expect(reconstructAsPath(m.attributes.asPath!, m.attributes.as4Path)).toEqual(base.asPath);
  });

  it("merges a longer 2-octet path with a shorter AS4_PATH keeping the leading ASNs", () => {
    expect(
      reconstructAsPath([{ type: 2, asns: [100, 200, 23456] }], [{ type: 2, asns: [200, 4200000000] }]),
    ).toEqual([
      { type: 2, asns: [100] },
      { type: 2, asns: [200, 4200000000] },
    ]);
  });
});

describe("multiprotocol NLRI", () => {
  it("round-trips IPv6 unicast with global and link-local next hops", () => {
    roundTrip({
      type: "update",
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [],
        mpReach: {
          family: "ipv6-unicast",
          nextHops: ["fd99:1::1", "fe80::1"],
          nlri: [{ prefix: "2001:db8::/32" }],
        },
        mpUnreach: { family: "ipv6-unicast", withdrawn: [{ prefix: "2001:db8:1::/48" }, { prefix: "::/0" }] },
      },
      nlri: [],
    });
  });

  it("round-trips IPv4 over an IPv6 next hop (RFC 8950)", () => {
    const m = roundTrip({
      type: "update",
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [],
        mpReach: { family: "ipv4-unicast", nextHops: ["fd99:1::1"], nlri: [{ prefix: "10.0.0.0/24" }] },
      },
      nlri: [],
    });
    expect(m.type === "update" && m.attributes.mpReach?.nextHops).toEqual(["fd99:1::1"]);
  });

  it("round-trips VPNv4 with all three RD types and VPNv6 (RFC 4364, 4659)", () => {
    roundTrip({
      type: "update",
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [],
        mpReach: {
          family: "ipv4-vpn",
          nextHops: ["10.0.0.1"],
          nlri: [
            { prefix: "10.10.0.0/16", rd: "65000:1", labels: [16] },
            { prefix: "10.11.0.0/16", rd: "192.0.2.1:5", labels: [0xe0040] },
            { prefix: "10.12.0.0/16", rd: "4200000000:7", labels: [100] },
            { prefix: "10.13.0.0/16", rd: "65000L:7", labels: [100, 200] },
          ],
        },
        mpUnreach: {
          family: "ipv6-vpn",
          withdrawn: [{ prefix: "2001:db8::/32", rd: "65000:1", labels: [] }],
        },
      },
      nlri: [],
    });
  });

  it("encodes a VPNv4 NLRI bit-exactly: label, RD type 0, prefix", () => {
    const b = encode({
      type: "update",
      withdrawn: [],
      attributes: {
        mpUnreach: {
          family: "ipv4-vpn",
          withdrawn: [{ prefix: "10.1.0.0/16", rd: "65000:1", labels: [16] }],
        },
      },
      nlri: [],
    });
    expect(b.subarray(b.length - 14).toString("hex")).toBe("68" + "000101" + "0000fde800000001" + "0a01");
  });

  it("a VPN withdrawal with no label uses 0x800000 (RFC 3107)", () => {
    const b = encode({
      type: "update",
      withdrawn: [],
      attributes: {
        mpUnreach: { family: "ipv4-vpn", withdrawn: [{ prefix: "10.1.0.0/16", rd: "65000:1", labels: [] }] },
      },
      nlri: [],
    });
    expect(b.subarray(b.length - 13, b.length - 10).toString("hex")).toBe("800000");
  });

  it("a VPN withdrawal's label field is one placeholder whatever its value: FRR 8.4 sends 0x000000", () => {
    // MP_UNREACH_NLRI exactly as FRR withdrew 10.77.0.0/24 in RD 65020:7 (the bottom-of-stack bit
    // is clear; reading on as a label stack would take the RD for labels and reset the session).
    const attr = hex("90 0f 0012 0001 80 70 000000 0000fdfc00000007 0a4d00");
    const m = decodeUpdate(updateBytes(Buffer.alloc(0), attr, Buffer.alloc(0)));
    expect(m.attributes.mpUnreach).toEqual({
      family: "ipv4-vpn",
      withdrawn: [{ prefix: "10.77.0.0/24", rd: "65020:7", labels: [] }],
    });
  });
});

describe("packing many prefixes", () => {
  it("splits 10,000 /32s into UPDATEs under 4096 bytes that decode back to every prefix", () => {
    const nlri = Array.from({ length: 10_000 }, (_, i) => ({
      prefix: `10.${(i >> 8) & 255}.${i & 255}.1/32`,
    }));
    const msgs = packAnnouncements(
      "ipv4-unicast",
      { origin: 0, asPath: [{ type: 2, asns: [65001] }] },
      ["10.0.0.1"],
      nlri,
    );
    expect(msgs.every((m) => m.length <= 4096)).toBe(true);
    const back = msgs.flatMap((m) => decodeUpdate(m).nlri.map((n) => n.prefix));
    expect(back).toEqual(nlri.map((n) => n.prefix));
    expect(decodeUpdate(msgs[0]!).attributes.nextHop).toBe("10.0.0.1");
  });

  it("packs IPv6 and VPN announcements into MP_REACH and withdrawals into MP_UNREACH", () => {
    const nlri = Array.from({ length: 500 }, (_, i) => ({ prefix: `2001:db8:${(i + 1).toString(16)}::/48` }));
    const msgs = packAnnouncements("ipv6-unicast", { origin: 0, asPath: [], med: 5 }, ["fd99::1"], nlri);
    const m = decodeUpdate(msgs[0]!);
    expect(m.attributes.med).toBe(5);
    expect(m.attributes.mpReach?.nextHops).toEqual(["fd99::1"]);
    expect(msgs.flatMap((x) => decodeUpdate(x).attributes.mpReach!.nlri)).toEqual(nlri);
    const w = packWithdrawals("ipv4-vpn", [{ prefix: "10.0.0.0/8", rd: "1:1", labels: [] }]);
    expect(decodeUpdate(w[0]!).attributes.mpUnreach?.withdrawn[0]).toEqual({
      prefix: "10.0.0.0/8",
      rd: "1:1",
      labels: [],
    });
  });

  it("End-of-RIB is an empty UPDATE or an empty MP_UNREACH", () => {
    expect(decodeUpdate(endOfRib("ipv4-unicast"))).toEqual({
      type: "update",
      withdrawn: [],
      attributes: {},
      nlri: [],
    });
    // Exactly the MP_UNREACH_NLRI and nothing after it: a stray byte would read as an IPv4 NLRI 0.0.0.0/0.
    for (const family of ["ipv6-unicast", "ipv4-vpn", "ipv6-vpn"] as const) {
      const eor = {
        type: "update" as const,
        withdrawn: [],
        attributes: { mpUnreach: { family, withdrawn: [] } },
        nlri: [],
      };
      expect(decodeUpdate(endOfRib(family))).toEqual(eor);
      expect(endOfRib(family)).toEqual(encode(eor));
    }
  });
});

describe("RFC 7606 error handling", () => {
  const origin = hex("40010100");
  const asPath = hex("400200");
  const nh = hex("40030401020304");
  const nlri = hex("180a0000");

  function outcome(attrs: Buffer, n = nlri) {
    return decodeUpdate(updateBytes(Buffer.alloc(0), attrs, n));
  }

  it("an ORIGIN of 5 is treat-as-withdraw with subcode Invalid ORIGIN", () => {
    const m = outcome(Buffer.concat([hex("40010105"), asPath, nh]));
    expect(m.treatAsWithdraw).toBe(true);
    expect(m.errors?.[0]?.subcode).toBe(6);
    expect(m.nlri).toEqual([{ prefix: "10.0.0.0/24" }]);
  });

  it("a missing NEXT_HOP is treat-as-withdraw (Missing Well-known Attribute)", () => {
    const m = outcome(Buffer.concat([origin, asPath]));
    expect(m.treatAsWithdraw).toBe(true);
    expect(m.errors?.[0]?.message).toMatch(/NEXT_HOP/);
  });

  it("a malformed AGGREGATOR is discarded and the route kept", () => {
    const m = outcome(Buffer.concat([origin, asPath, nh, hex("c007020001")]));
    expect(m.treatAsWithdraw).toBeUndefined();
    expect(m.errors?.[0]?.action).toBe("attribute-discard");
    expect(m.attributes.aggregator).toBeUndefined();
    expect(m.attributes.nextHop).toBe("1.2.3.4");
  });

  it("COMMUNITIES with a length not a multiple of 4 is treat-as-withdraw", () => {
    const m = outcome(Buffer.concat([origin, asPath, nh, hex("c00803010203")]));
    expect(m.treatAsWithdraw).toBe(true);
    expect(m.errors?.[0]?.message).toMatch(/COMMUNITIES malformed/);
  });

  it("ORIGIN flagged optional is an attribute flags error, treat-as-withdraw", () => {
    const m = outcome(Buffer.concat([hex("c0010100"), asPath, nh]));
    expect(m.treatAsWithdraw).toBe(true);
    expect(m.errors?.[0]?.subcode).toBe(4);
  });

  // Issue 19, bug 3: a check of the Optional bit alone passed every codec, RIB and raw-peer test.
  // RFC 4271 §5 fixes both the Optional and the Transitive bit of each attribute; RFC 7606 §3(c)
  // makes a conflict in either a malformed attribute, handled with that attribute's action (§7,
  // RFC 8092 §6 for LARGE_COMMUNITY, RFC 8669 §6 for the Prefix-SID). Written out from the RFCs,
  // not from the codec's own table.
  const RFC_FLAGS: [name: string, type: number, flags: number, action: string][] = [
    ["ORIGIN", 1, 0x40, "treat-as-withdraw"],
    ["AS_PATH", 2, 0x40, "treat-as-withdraw"],
    ["NEXT_HOP", 3, 0x40, "treat-as-withdraw"],
    ["MULTI_EXIT_DISC", 4, 0x80, "treat-as-withdraw"],
    ["LOCAL_PREF", 5, 0x40, "treat-as-withdraw"],
    ["ATOMIC_AGGREGATE", 6, 0x40, "attribute-discard"],
    ["AGGREGATOR", 7, 0xc0, "attribute-discard"],
    ["COMMUNITIES", 8, 0xc0, "treat-as-withdraw"],
    ["ORIGINATOR_ID", 9, 0x80, "treat-as-withdraw"],
    ["CLUSTER_LIST", 10, 0x80, "treat-as-withdraw"],
    ["MP_REACH_NLRI", 14, 0x80, "session-reset"],
    ["MP_UNREACH_NLRI", 15, 0x80, "session-reset"],
    ["EXTENDED_COMMUNITIES", 16, 0xc0, "treat-as-withdraw"],
    ["AS4_PATH", 17, 0xc0, "attribute-discard"],
    ["AS4_AGGREGATOR", 18, 0xc0, "attribute-discard"],
    ["LARGE_COMMUNITY", 32, 0xc0, "treat-as-withdraw"],
    ["BGP Prefix-SID", 40, 0xc0, "treat-as-withdraw"],
  ];
  for (const [name, type, flags, action] of RFC_FLAGS) {
    for (const [bit, wrong] of [
      ["Transitive", flags ^ 0x40],
      ["Optional", flags ^ 0x80],
    ] as const) {
      it(`${name} with its ${bit} bit wrong (0x${wrong.toString(16)}) is an Attribute Flags Error, ${action}`, () => {
        // The value is never read: a flags error is found before the attribute is decoded.
        const bad = Buffer.from([wrong, type, 4, 0, 0, 0, 0]);
        const attrs = Buffer.concat(type <= 3 ? [bad] : [origin, asPath, nh, bad]);
        if (action === "session-reset") {
          expect(() => outcome(attrs)).toThrow(new RegExp(`^${name} has flags 0x${wrong.toString(16)}`));
          try {
            outcome(attrs);
          } catch (e) {
            expect(e).toMatchObject({ action, code: 3, subcode: 4 });
          }
          return;
        }
        const m = outcome(attrs);
        expect(m.errors?.[0]).toMatchObject({
          action,
          code: 3,
          subcode: 4,
          message: `${name} has flags 0x${wrong.toString(16)}, expected 0x${flags.toString(16)}`,
        });
        expect(m.treatAsWithdraw).toBe(action === "treat-as-withdraw" ? true : undefined);
      });
    }
  }

  it("a repeated attribute keeps the first", () => {
    const m = outcome(Buffer.concat([origin, asPath, nh, hex("40010102")]));
    expect(m.attributes.origin).toBe(0);
    expect(m.errors?.[0]?.action).toBe("attribute-discard");
  });

  it("an unrecognized well-known attribute resets the session (3/2)", () => {
    expect(() => outcome(Buffer.concat([origin, asPath, nh, hex("4063020000")]))).toThrow(
      /unrecognized well-known/,
    );
  });

  it("unknown optional transitive attributes pass through, unknown non-transitive ones are dropped", () => {
    const m = outcome(Buffer.concat([origin, asPath, nh, hex("c0630201ff"), hex("80640100")]));
    expect(m.attributes.unknown).toEqual([{ flags: 0xc0, type: 0x63, value: hex("01ff") }]);
  });

  it("an attribute overrunning the block is treat-as-withdraw", () => {
    const m = outcome(Buffer.concat([origin, asPath, nh, hex("c00810")]));
    expect(m.treatAsWithdraw).toBe(true);
  });

  it("an MP_REACH_NLRI with a malformed next hop length resets the session", () => {
    const reach = hex("900e0005000201" + "0000"); // AFI 2 SAFI 1, next hop length 0
    expect(() => outcome(Buffer.concat([origin, asPath, reach]), Buffer.alloc(0))).toThrow(
      /MP_REACH_NLRI malformed/,
    );
  });

  it("a duplicated MP_REACH_NLRI resets the session", () => {
    const reach = hex(`900e0015 0002 01 10 ${"fd".padEnd(32, "0")} 00`);
    expect(() => outcome(Buffer.concat([origin, asPath, reach, reach]), Buffer.alloc(0))).toThrow(
      /MP_REACH_NLRI appears twice/,
    );
  });

  it("a /33 IPv4 prefix is Invalid Network Field and resets the session", () => {
    expect(() => outcome(Buffer.concat([origin, asPath, nh]), hex("210a000000ff"))).toThrow(
      /prefix length 33/,
    );
  });

  it("a withdrawn-routes length beyond the message is Malformed Attribute List", () => {
    const b = updateBytes(Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0));
    b.writeUInt16BE(10, 19);
    try {
      decode(b);
      expect.unreachable();
    } catch (e) {
      expect((e as { subcode: number }).subcode).toBe(1);
    }
  });
});
