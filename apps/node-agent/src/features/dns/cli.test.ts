import { describe, expect, it } from "vitest";
import { UsageError } from "../../cli/command.js";
import { logCells, logFilter, logQuery, logRow } from "./cli.js";
import type { DnsQueryEvent } from "./proxy.js";

const allowed: DnsQueryEvent = {
  time: "2026-12-02T17:00:00.000Z",
  endpoint: "shop/client-1",
  client: "10.244.41.5",
  server: "10.99.0.53:53",
  protocol: "udp",
  name: "www.example.test",
  type: "A",
  verdict: "allowed",
  rule: "shop/client-dns#egress0 (matchPattern:*.example.test)",
  rcode: 0,
  answers: [
    { address: "10.99.1.10", ttl: 300 },
    { address: "10.99.1.11", ttl: 30 },
  ],
  latencyMs: 1.2,
};

describe("dns log: filters and rows", () => {
  it("takes --pod as the console's endpoint filter and checks --verdict against the verdicts", () => {
    expect(logFilter({ pod: "client-1", name: "Example", verdict: "denied" })).toEqual({
      endpoint: "client-1",
      name: "Example",
      verdict: "denied",
    });
    expect(() => logFilter({ verdict: "refused" })).toThrow(UsageError);
    expect(() => logFilter({ verdict: "refused" })).toThrow(/^--verdict: /);
    expect(() => logFilter({ pod: "x".repeat(301) })).toThrow(/^--pod: /);
    expect(() => logFilter({ name: "x".repeat(256) })).toThrow(/^--name: /);
  });

  it("asks the local API for exactly the filters given", () => {
    expect(logQuery({}, false)).toBe("");
    expect(logQuery({ verdict: "denied", endpoint: "shop/client-1" }, true)).toBe(
      "?follow=1&verdict=denied&endpoint=shop%2Fclient-1",
    );
  });

  it("shows the answers with their TTLs and the rule; a denied query its reason and rcode", () => {
    expect(logCells(allowed)).toEqual([
      "2026-12-02T17:00:00.000Z",
      "shop/client-1",
      "www.example.test",
      "A",
      "allowed",
      "NOERROR",
      "10.99.1.10 (300s), 10.99.1.11 (30s)",
      "shop/client-dns#egress0 (matchPattern:*.example.test)",
    ]);
    const denied = logCells({
      ...allowed,
      name: "blocked.other.test",
      verdict: "denied",
      rule: undefined,
      reason: "no DNS rule of shop/client-1 allows blocked.other.test",
      rcode: 5,
      answers: undefined,
    });
    expect(denied.slice(4)).toEqual([
      "denied",
      "REFUSED",
      "-",
      "no DNS rule of shop/client-1 allows blocked.other.test",
    ]);
    // Fixed widths: a streamed row lines up with the header whatever comes later.
    const header = logRow([
      "TIME",
      "ENDPOINT",
      "NAME",
      "TYPE",
      "VERDICT",
      "RCODE",
      "ANSWERS (TTL)",
      "RULE / REASON",
    ]);
    expect(logRow(denied).indexOf("denied")).toBe(header.indexOf("VERDICT"));
    expect(logRow(denied).indexOf("REFUSED")).toBe(header.indexOf("RCODE"));
    // An answer with more addresses than an event keeps says how many more.
    expect(logCells({ ...allowed, answers: allowed.answers!.slice(0, 1), answerCount: 3_000 })[6]).toBe(
      "10.99.1.10 (300s), +2999 more",
    );
    // A message the proxy could not read has no endpoint yet: the client's address stands in.
    expect(logCells({ ...allowed, endpoint: undefined, rcode: undefined })[1]).toBe("10.244.41.5");
    expect(logCells({ ...allowed, endpoint: undefined, rcode: undefined })[5]).toBe("-");
  });
});
