import { describe, expect, it } from "vitest";
import { safeNext } from "./safe-next";

const OWN = "http://127.0.0.1:3000";

describe("safeNext: only a path on this console", () => {
  it.each([
    "https://evil.example/x",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "  //evil.example",
    "///evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://127.0.0.1:3001/other-port",
    "/.//evil.example",
    "/..//evil.example",
    "/a/..//evil.example",
  ])("%j goes to /", (next) => {
    expect(safeNext(next, OWN)).toBe("/");
    expect(safeNext(next)).toBe("/");
  });

  it.each([
    // Encoded separators stay encoded: a browser asks this console for that odd path.
    ["/%09/evil.example", "/%09/evil.example"],
    ["/%5Cevil.example", "/%5Cevil.example"],
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
    ["/policies?namespace=x", "/policies?namespace=x"],
    ["/audit?from=3&to=4#diff", "/audit?from=3&to=4#diff"],
    ["policies", "/policies"],
    [`${OWN}/nodes/node-a`, "/nodes/node-a"],
  ])("%j stays on the console as %j", (next, expected) => {
    expect(safeNext(next, OWN)).toBe(expected);
    const followed = new URL(safeNext(next, OWN), OWN);
    expect(followed.origin).toBe(OWN);
  });

  it("anything that is not a string goes to /", () => {
    expect(safeNext(undefined)).toBe("/");
    expect(safeNext(null)).toBe("/");
    expect(safeNext(["/x"])).toBe("/");
    expect(safeNext("")).toBe("/");
  });
});
