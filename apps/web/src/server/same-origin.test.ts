import { describe, expect, it } from "vitest";
import { isSameOrigin } from "./same-origin";

const at = (h: Record<string, string>) => new Headers({ host: "127.0.0.1:3000", ...h });

describe("isSameOrigin: cookie-bearing posts only from the console's own pages", () => {
  it("accepts the browser's same-origin requests", () => {
    expect(isSameOrigin(at({ "sec-fetch-site": "same-origin", origin: "http://127.0.0.1:3000" }))).toBe(true);
    expect(isSameOrigin(at({ origin: "http://127.0.0.1:3000" }))).toBe(true);
    expect(
      isSameOrigin(at({ origin: "https://console.example.net", "x-forwarded-host": "console.example.net" })),
    ).toBe(true);
  });

  it("refuses other sites, other ports of the same host and sibling subdomains", () => {
    expect(isSameOrigin(at({ "sec-fetch-site": "cross-site", origin: "https://evil.example" }))).toBe(false);
    expect(isSameOrigin(at({ "sec-fetch-site": "same-site", origin: "http://127.0.0.1:3001" }))).toBe(false);
    expect(isSameOrigin(at({ origin: "http://127.0.0.1:3001" }))).toBe(false);
    expect(isSameOrigin(at({ origin: "http://evil.127.0.0.1:3000" }))).toBe(false);
    expect(isSameOrigin(at({ origin: "null" }))).toBe(false);
  });

  it("Sec-Fetch-Site outranks an Origin that a proxy's Host rewrite made look foreign", () => {
    expect(isSameOrigin(at({ "sec-fetch-site": "same-origin", origin: "https://console.example.net" }))).toBe(
      true,
    );
  });

  it("lets requests without browser headers through (no browser, no victim's cookie)", () => {
    expect(isSameOrigin(at({}))).toBe(true);
  });
});
