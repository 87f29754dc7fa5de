import { describe, expect, it } from "vitest";
import {
  decode,
  encode,
  type PrefixSid,
  type SidStructure,
  SrBehavior,
  transposeSid,
  untransposeSid,
} from "../../src/index.js";
import { hex, roundTrip } from "./helpers.js";

const structure: SidStructure = {
  locatorBlockLength: 40,
  locatorNodeLength: 24,
  functionLength: 16,
  argumentLength: 0,
  transpositionLength: 16,
  transpositionOffset: 64,
};

const l3: PrefixSid = {
  srv6L3Service: { sids: [{ sid: "fd00:1:2:3::", flags: 0, behavior: SrBehavior.EndDT4, structure }] },
};

describe("BGP Prefix-SID (RFC 8669, RFC 9252)", () => {
  it("lays out the SRv6 L3 Service TLV, SID Information sub-TLV and SID Structure sub-sub-TLV", () => {
    const b = encode({ type: "update", withdrawn: [], attributes: { prefixSid: l3 }, nlri: [] });
    const attr = b.subarray(23);
    expect(attr.toString("hex")).toBe(
      "c0" +
        "28" +
        "25" + // flags, type 40, length 37
        "05" +
        "0022" +
        "00" + // L3 Service TLV, length 34, reserved
        "01" +
        "001e" +
        "00" +
        "fd000001000200030000000000000000" +
        "00" +
        "0013" +
        "00" + // SID Information
        "01" +
        "0006" +
        "28" +
        "18" +
        "10" +
        "00" +
        "10" +
        "40", // SID Structure 40/24/16/0 TL16 TO64
    );
  });

  it("round-trips label index, L2 service, several SIDs and unknown TLVs unchanged", () => {
    roundTrip({
      type: "update",
      withdrawn: [],
      attributes: {
        prefixSid: {
          labelIndex: { flags: 0, index: 7 },
          srv6L3Service: {
            sids: [
              { sid: "fd00::1", flags: 0, behavior: SrBehavior.EndDT6 },
              {
                sid: "fd00::2",
                flags: 1,
                behavior: 0x14,
                structure,
                unknown: [{ type: 9, value: hex("aa") }],
              },
            ],
            unknown: [{ type: 7, value: hex("0102") }],
          },
          srv6L2Service: { sids: [{ sid: "fd00::3", flags: 0, behavior: 0x15 }] },
          unknown: [{ type: 3, value: hex("000010000000010000") }],
        },
      },
      nlri: [],
    });
  });

  it("transposes function 0xe004 into label 0xe0040 and zeroes it in the SID", () => {
    const t = transposeSid("fd00:0:0:1:e004::", structure);
    expect(t).toEqual({ sid: "fd00:0:0:1::", label: 0xe0040 });
    expect(untransposeSid(t.sid, t.label, structure)).toBe("fd00:0:0:1:e004::");
  });

  it("a SID Structure of the wrong length makes the route treat-as-withdraw, not a reset", () => {
    const b = encode({
      type: "update",
      withdrawn: [],
      attributes: { origin: 0, asPath: [], nextHop: "1.1.1.1", prefixSid: l3 },
      nlri: [{ prefix: "10.0.0.0/8" }],
    });
    const i = b.indexOf(hex("01000628"));
    b.writeUInt16BE(5, i + 1);
    const m = decode(b);
    expect(m.type === "update" && m.treatAsWithdraw).toBe(true);
    expect(m.type === "update" && m.errors?.[0]?.message).toMatch(/Prefix-SID/);
  });

  it("a Prefix-SID TLV overrunning the attribute is treat-as-withdraw", () => {
    const b = encode({
      type: "update",
      withdrawn: [],
      attributes: { origin: 0, asPath: [], nextHop: "1.1.1.1", prefixSid: l3 },
      nlri: [{ prefix: "10.0.0.0/8" }],
    });
    const i = b.indexOf(hex("050022"));
    b.writeUInt16BE(0x40, i + 1);
    const m = decode(b);
    expect(m.type === "update" && m.treatAsWithdraw).toBe(true);
  });
});
