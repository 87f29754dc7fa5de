// The canonical form desired state is hashed in: the API and every agent must produce the same
// text for the same state, whatever order its keys were built in.
import { describe, expect, it } from "vitest";
import { byText, canonicalJson, sectionHash, sha256Hex } from "./hash";

describe("canonicalJson", () => {
  it("sorts keys, drops undefined members, writes undefined array items as null", () => {
    expect(canonicalJson({ b: 1, a: [2, undefined, { d: null, c: "x" }], skip: undefined })).toBe(
      '{"a":[2,null,{"c":"x","d":null}],"b":1}',
    );
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson([[1], [2, 3]])).toBe("[[1],[2,3]]");
    expect(canonicalJson({ z: undefined, y: 1 })).toBe('{"y":1}');
    expect([canonicalJson(null), canonicalJson(undefined), canonicalJson("a"), canonicalJson(1.5)]).toEqual([
      "null",
      "null",
      '"a"',
      "1.5",
    ]);
  });

  it("is the same text as JSON.stringify for data already in key order", () => {
    const state = { a: [{ b: 1, c: [true, false] }], d: "é\n", e: { f: -0.5 } };
    expect(canonicalJson(state)).toBe(JSON.stringify(state));
  });
});

describe("byText and sectionHash", () => {
  it("orders by code unit, independent of locale", () => {
    expect(["b", "B", "a", "ä", "A"].sort(byText)).toEqual(["A", "B", "a", "b", "ä"]);
    expect([byText("a", "b"), byText("b", "a"), byText("a", "a")]).toEqual([-1, 1, 0]);
  });

  it("hashes a section's canonical JSON", () => {
    const section = { y: [1, 2], x: "v" };
    expect(sectionHash(section)).toBe(sha256Hex('{"x":"v","y":[1,2]}'));
    expect(sectionHash(7)).toBe(sha256Hex("7"));
  });
});
