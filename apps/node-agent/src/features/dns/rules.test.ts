// The proxy's name decisions, from a desired state's endpoint as the compiler writes it.
import { describe, expect, it } from "vitest";
import { compileEndpointDns, decide, selectorIdentities } from "./rules.js";

const endpoint = {
  id: "6872a8d9-1ac0-4335-9e6a-eca02e233a30",
  namespace: "shop",
  name: "client-1",
  labels: {},
  ipv4: "10.244.1.2",
  identity: 1000,
  policyEnforced: { ingress: false, egress: true },
  policies: ["shop/dns"],
  entries: [],
  fqdnSelectors: [
    { identity: 16777216 + 4194304, matchPattern: "*.example.test", ruleIds: ["shop/dns/egress[1]"] },
    { identity: 16777216 + 4194305, matchName: "api.partner.test", ruleIds: ["shop/dns/egress[1]"] },
  ],
  dnsRules: [
    {
      ruleId: "shop/dns/egress[0]",
      ports: [{ port: 53, protocol: 0 }],
      allowed: [
        { matchName: "api.partner.test" },
        { matchPattern: "*.example.test" },
        { matchPattern: "**.corp.test" },
        { matchPattern: "db-*.svc.test" },
      ],
    },
  ],
};
const policy = compileEndpointDns(endpoint);
const verdict = (name: string, port = 53, protocol = 17) => decide(policy, name, port, protocol).verdict;

describe("DNS rules", () => {
  it("matchName: exact, case-insensitive, trailing dot optional", () => {
    expect(verdict("api.partner.test")).toBe("allow");
    expect(verdict("API.Partner.TEST.")).toBe("allow");
    expect(verdict("x.api.partner.test")).toBe("deny");
    expect(verdict("api.partner.test.evil")).toBe("deny");
  });

  it("matchPattern: * within one label, ** for any number of labels", () => {
    expect(verdict("www.example.test")).toBe("allow");
    expect(verdict("a.b.example.test")).toBe("deny"); // * is one label
    expect(verdict("example.test")).toBe("deny");
    expect(verdict("x.corp.test")).toBe("allow");
    expect(verdict("a.b.c.corp.test")).toBe("allow");
    expect(verdict("corp.test")).toBe("deny");
    expect(verdict("db-.svc.test")).toBe("allow"); // * inside a label: zero or more characters
    expect(verdict("db-7.svc.test")).toBe("allow");
    expect(verdict("db.svc.test")).toBe("deny");
  });

  it("* alone allows every name", () => {
    const all = compileEndpointDns({
      ...endpoint,
      dnsRules: [{ ruleId: "r", ports: [{ port: 53, protocol: 17 }], allowed: [{ matchPattern: "*" }] }],
    });
    expect(decide(all, "anything.at.all", 53, 17).verdict).toBe("allow");
    expect(decide(all, "x", 53, 17).verdict).toBe("allow");
    // The rule names UDP only: TCP on the same port is not covered.
    expect(decide(all, "x", 53, 6).verdict).toBe("deny");
  });

  it("a port no rule names is denied, and a denial names the rules that did not allow it", () => {
    expect(verdict("www.example.test", 5353)).toBe("deny");
    const d = decide(policy, "evil.test", 53, 17);
    expect(d).toEqual({
      verdict: "deny",
      reason: "no DNS rule of shop/client-1 (shop/dns/egress[0]) allows evil.test",
    });
  });

  it("selectors match the query name or any name on its CNAME chain", () => {
    expect(selectorIdentities(policy, ["alias.other.test", "www.example.test"])).toEqual([
      16777216 + 4194304,
    ]);
    expect(selectorIdentities(policy, ["api.partner.test"])).toEqual([16777216 + 4194305]);
    expect(selectorIdentities(policy, ["other.test"])).toEqual([]);
  });
});
