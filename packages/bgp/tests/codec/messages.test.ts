import { describe, expect, it } from "vitest";
import { DecodeError, decode, encode, frameLength, notificationWords, safeDecode } from "../../src/index.js";
import { hex, MARKER, roundTrip } from "./helpers.js";

describe("message header and simple messages", () => {
  it("a KEEPALIVE is exactly the 19-byte header", () => {
    expect(encode({ type: "keepalive" })).toEqual(hex(`${MARKER} 0013 04`));
    roundTrip({ type: "keepalive" });
  });

  it("a NOTIFICATION carries code, subcode and data and reads in words", () => {
    const m = roundTrip({ type: "notification", code: 2, subcode: 2, data: hex("fde8") });
    expect(m).toMatchObject({ code: 2, subcode: 2 });
    expect(notificationWords(2, 2)).toBe("OPEN Message Error / Bad Peer AS");
    expect(notificationWords(6, 2)).toBe("Cease / Administrative Shutdown");
    expect(notificationWords(4, 0)).toBe("Hold Timer Expired");
  });

  it("a ROUTE-REFRESH names the family", () => {
    const b = encode({ type: "route-refresh", family: "ipv6-unicast", subtype: 0 });
    expect(b.subarray(19)).toEqual(hex("0002 00 01"));
    roundTrip({ type: "route-refresh", family: "ipv4-vpn", subtype: 0 });
  });

  it("a bad marker is Connection Not Synchronized", () => {
    const b = encode({ type: "keepalive" });
    b[3] = 0;
    expect(() => frameLength(b)).toThrow(/marker/);
    const r = safeDecode(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.subcode, r.error.action]).toEqual([1, 1, "session-reset"]);
  });

  it("a length below the minimum is Bad Message Length with the length as data", () => {
    const b = hex(`${MARKER} 0012 04`);
    try {
      frameLength(b);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect((e as DecodeError).subcode).toBe(2);
      expect((e as DecodeError).data).toEqual(hex("0012"));
    }
  });

  it("an unknown message type is Bad Message Type", () => {
    const r = safeDecode(hex(`${MARKER} 0013 09`));
    expect(!r.ok && r.error.subcode).toBe(3);
  });

  it("frameLength waits for the rest of a message", () => {
    const b = encode({ type: "keepalive" });
    expect(frameLength(b.subarray(0, 10))).toBe(0);
    expect(frameLength(Buffer.concat([b, b.subarray(0, 5)]))).toBe(19);
  });
});

describe("OPEN", () => {
  it("encodes capabilities the way RFC 5492 lays them out", () => {
    const b = encode({
      type: "open",
      version: 4,
      myAs: 65001,
      holdTime: 90,
      bgpId: "10.0.0.1",
      capabilities: { multiprotocol: ["ipv4-unicast"], routeRefresh: true, as4: 65001 },
    });
    expect(b.subarray(19).toString("hex")).toBe(
      "04fde9005a0a000001" + "14" + "0206010400010001" + "02020200" + "0206410400" + "00fde9",
    );
  });

  it("round-trips every capability we understand and keeps unknown ones", () => {
    const m = roundTrip({
      type: "open",
      version: 4,
      myAs: 23456,
      holdTime: 180,
      bgpId: "192.0.2.1",
      capabilities: {
        multiprotocol: ["ipv4-unicast", "ipv6-unicast", "ipv4-vpn", "ipv6-vpn"],
        routeRefresh: true,
        extendedNextHop: [{ family: "ipv4-unicast", nextHopAfi: 2 }],
        gracefulRestart: {
          restarting: true,
          notification: false,
          time: 120,
          families: [{ family: "ipv4-unicast", forwardingPreserved: true }],
        },
        as4: 4200000001,
        unknown: [{ code: 73, value: hex("0568656c6c6f00") }],
      },
    });
    expect(m.type === "open" && m.capabilities.as4).toBe(4200000001);
  });

  it("rejects version 3 with the supported version in the data", () => {
    const r = safeDecode(hex(`${MARKER} 001d 01 03 fde9 005a 0a000001 00`));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect([r.error.code, r.error.subcode]).toEqual([2, 1]);
      expect(r.error.data).toEqual(hex("0004"));
    }
  });

  it("rejects hold time 1 and 2 as Unacceptable Hold Time", () => {
    const r = safeDecode(hex(`${MARKER} 001d 01 04 fde9 0002 0a000001 00`));
    expect(!r.ok && [r.error.code, r.error.subcode]).toEqual([2, 6]);
  });

  it("rejects an optional parameter other than capabilities", () => {
    const r = safeDecode(hex(`${MARKER} 0020 01 04 fde9 005a 0a000001 03 010100`));
    expect(!r.ok && [r.error.code, r.error.subcode]).toEqual([2, 4]);
  });

  it("accepts the RFC 9072 extended optional parameters form", () => {
    const m = decode(hex(`${MARKER} 0025 01 04 fde9 005a 0a000001 ff ff 0005 02 0002 0200`));
    expect(m.type === "open" && m.capabilities.routeRefresh).toBe(true);
  });
});
