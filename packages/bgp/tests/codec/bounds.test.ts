// Reads that run out inside a region whose buffer goes on (a short field must not borrow the next
// attribute's bytes), NLRI that does not fit its family or its message, and the AFI/SAFI pairs
// the codec knows: each as the error a peer's NOTIFICATION or a log line would carry.
import { describe, expect, it } from "vitest";
import {
  ALL_FAMILIES,
  afiSafi,
  DecodeError,
  decode,
  encode,
  familyOf,
  Reader,
  TruncatedError,
} from "../../src/index.js";
import { hex, updateBytes } from "./helpers.js";

function refusal(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return e as DecodeError;
  }
  throw new Error("expected a DecodeError, but it decoded");
}

function typeError(fn: () => unknown): TypeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TypeError);
    return e as TypeError;
  }
  throw new Error("expected a TypeError, but it encoded");
}

const ORIGIN_ASPATH = "40010100" + "400200";

describe("the bounds-checked reader", () => {
  it("a read past the region's end is refused even where the buffer goes on", () => {
    const buf = hex("0102030405060708");
    const r = new Reader(buf, 1, 4, { action: "treat-as-withdraw", code: 3, subcode: 9 });
    expect(r.u16("first")).toBe(0x0203);
    const err = refusal(() => r.u16("second"));
    expect(err).toBeInstanceOf(TruncatedError);
    expect(err.message).toBe("truncated second: need 2 bytes at offset 3, 1 left");
    expect(err).toMatchObject({ action: "treat-as-withdraw", code: 3, subcode: 9 });
    expect(refusal(() => r.bytes(-1, "negative")).message).toBe(
      "truncated negative: need -1 bytes at offset 3, 1 left",
    );
  });

  it("u32 and u16 advance by their width", () => {
    const r = new Reader(hex("0000000a000b0c"), 0, 7);
    expect(r.u32("a")).toBe(10);
    expect(r.u16("b")).toBe(11);
    expect(r.u8("c")).toBe(12);
    expect(r.remaining).toBe(0);
  });

  it("a declared length that overruns its container says by how much, with the inner rule", () => {
    const r = new Reader(hex("00112233445566"), 2, 6);
    const inner = { action: "session-reset" as const, code: 3, subcode: 1 };
    const err = refusal(() => r.sub(5, "withdrawn routes", inner));
    expect(err.message).toBe("withdrawn routes length 5 overruns its container by 1 bytes");
    expect(err).toMatchObject(inner);
    const ok = r.sub(4, "attributes");
    expect([ok.pos, ok.end, r.pos]).toEqual([2, 6, 6]);
  });

  it("an MP_REACH_NLRI cut inside its SAFI does not read the next attribute's flags", () => {
    // MP_REACH (len 2: only the AFI), then ORIGIN and AS_PATH: the SAFI is missing.
    const attrs = hex(`800e020001${ORIGIN_ASPATH}`);
    const err = refusal(() => decode(updateBytes(Buffer.alloc(0), attrs, Buffer.alloc(0))));
    expect(err.message).toBe(
      "MP_REACH_NLRI malformed: truncated MP_REACH SAFI: need 1 bytes at offset 2, 0 left",
    );
    expect(err).toMatchObject({ action: "session-reset", code: 3, subcode: 9 });
  });
});

describe("NLRI at its limits", () => {
  it("a VPN NLRI shorter than one label is an Invalid Network Field", () => {
    // MP_REACH ipv4-vpn, next hop 12 bytes (RD 0 + 10.0.0.1), reserved, then NLRI of 16 bits.
    const mp = "0001800c" + "0000000000000000" + "0a000001" + "00" + "10" + "0a00";
    const attrs = hex(`800e${(mp.length / 2).toString(16).padStart(2, "0")}${mp}${ORIGIN_ASPATH}`);
    const err = refusal(() => decode(updateBytes(Buffer.alloc(0), attrs, Buffer.alloc(0))));
    expect(err.message).toBe("MP_REACH_NLRI malformed: VPN NLRI length 16 too short for a label");
    expect(err).toMatchObject({ action: "session-reset", code: 3, subcode: 10 });
  });

  it("a prefix cut short by the end of the message is an Invalid Network Field, not a made-up route", () => {
    const attrs = hex(`${ORIGIN_ASPATH}4003040a000001`);
    for (const [nlri, want] of [
      ["180a09", "NLRI prefix of /24 truncated: 2 bytes left"],
      ["100a", "NLRI prefix of /16 truncated: 1 bytes left"],
      ["20", "NLRI prefix of /32 truncated: 0 bytes left"],
    ] as const) {
      const err = refusal(() => decode(updateBytes(Buffer.alloc(0), attrs, hex(nlri))));
      expect(err.message, nlri).toBe(want);
      expect(err).toMatchObject({ action: "session-reset", code: 3, subcode: 10 });
    }
  });

  it("an encoder refuses a prefix of the other family and a VPN route without a distinguisher", () => {
    const base = { origin: 0, asPath: [], nextHop: "10.0.0.1" };
    expect(
      typeError(() =>
        encode({ type: "update", withdrawn: [], attributes: base, nlri: [{ prefix: "2001:db8::/32" }] }),
      ).message,
    ).toBe("prefix 2001:db8::/32 does not belong to ipv4-unicast");
    expect(
      typeError(() =>
        encode({
          type: "update",
          withdrawn: [],
          attributes: {
            origin: 0,
            asPath: [],
            mpReach: {
              family: "ipv4-vpn",
              nextHops: ["10.0.0.1"],
              nlri: [{ prefix: "10.1.0.0/16", labels: [16] }],
            },
          },
          nlri: [],
        }),
      ).message,
    ).toBe("VPN route 10.1.0.0/16 needs a route distinguisher");
  });
});

describe("address families", () => {
  it("the four families the codec carries, each its AFI/SAFI and back", () => {
    expect(ALL_FAMILIES.map((f) => [f, afiSafi(f)])).toEqual([
      ["ipv4-unicast", { afi: 1, safi: 1 }],
      ["ipv6-unicast", { afi: 2, safi: 1 }],
      ["ipv4-vpn", { afi: 1, safi: 128 }],
      ["ipv6-vpn", { afi: 2, safi: 128 }],
    ]);
    for (const f of ALL_FAMILIES) expect(familyOf(afiSafi(f).afi, afiSafi(f).safi)).toBe(f);
  });

  it("any other AFI/SAFI is unknown (multicast, labeled unicast, EVPN, flowspec)", () => {
    for (const [afi, safi] of [
      [1, 2],
      [2, 2],
      [1, 4],
      [2, 4],
      [25, 70],
      [1, 133],
      [2, 129],
      [3, 1],
      [3, 128],
      [0, 0],
    ] as const) {
      expect(familyOf(afi, safi), `${afi}/${safi}`).toBeUndefined();
    }
  });
});
