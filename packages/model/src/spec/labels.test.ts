import { describe, expect, it } from "vitest";
import { dnsNameMatches, labelsSchema, selectorMatches } from "./index";
import { issuesOf } from "./test-helpers.test-helpers";

describe("selectorMatches", () => {
  const labels = { app: "web", tier: "front", "io.kubernetes.pod.namespace": "prod" };

  it("treats an empty selector as matching everything", () => {
    expect(selectorMatches({}, labels)).toBe(true);
  });

  it("ignores Cilium's k8s: source prefix on keys", () => {
    expect(
      selectorMatches(
        { matchLabels: { "k8s:app": "web", "k8s:io.kubernetes.pod.namespace": "prod" } },
        labels,
      ),
    ).toBe(true);
  });

  it("applies In, NotIn, Exists and DoesNotExist", () => {
    const sel = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", values?: string[]) =>
      selectorMatches(
        { matchExpressions: [{ key: "tier", operator, ...(values ? { values } : {}) }] },
        labels,
      );
    expect([
      sel("In", ["front"]),
      sel("In", ["back"]),
      sel("NotIn", ["front"]),
      sel("NotIn", ["back"]),
    ]).toEqual([true, false, false, true]);
    expect([sel("Exists"), sel("DoesNotExist")]).toEqual([true, false]);
  });

  it("rejects invalid label keys and values", () => {
    expect(issuesOf(labelsSchema, { "bad key": "x" })[0]!.message).toContain(
      'label key "bad key" must start and end',
    );
    expect(issuesOf(labelsSchema, { app: "-web" })[0]!.message).toContain('label value "-web"');
  });
});

describe("dnsNameMatches", () => {
  it("matches one label for *, and any depth for a leading **.", () => {
    expect(dnsNameMatches("*.example.com", "api.example.com")).toBe(true);
    expect(dnsNameMatches("*.example.com", "a.b.example.com")).toBe(false);
    expect(dnsNameMatches("*.example.com", "example.com")).toBe(false);
    expect(dnsNameMatches("**.example.com", "a.b.example.com")).toBe(true);
    expect(dnsNameMatches("**.example.com", "example.com")).toBe(false);
  });

  it("matches characters within a label, case-insensitively and with a trailing dot", () => {
    expect(dnsNameMatches("api-*.example.com", "API-eu.Example.com.")).toBe(true);
    expect(dnsNameMatches("api-*.example.com", "web.example.com")).toBe(false);
    expect(dnsNameMatches("*", "anything.at.all")).toBe(true);
    expect(dnsNameMatches("example.com", "exampleXcom")).toBe(false);
  });
});
