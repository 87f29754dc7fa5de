import { describe, expect, it } from "vitest";
import { dropRuleLabel, endLabel, flowFilters, flowsHref, hasFilter } from "./flows";

describe("Flows page filters and labels", () => {
  it("read the URL's filters, dropping verdicts and windows the page does not offer", () => {
    expect(flowFilters({ namespace: " shop ", verdict: "dropped", since: "15m" })).toEqual({
      namespace: "shop",
      pod: undefined,
      verdict: "dropped",
      reason: undefined,
      node: undefined,
      since: "15m",
    });
    const odd = flowFilters({ verdict: "maybe", since: "3y", pod: ["db-0", "db-1"] });
    expect(odd).toMatchObject({ verdict: undefined, since: "1h", pod: "db-0" });
    expect(hasFilter(flowFilters({ since: "5m" }))).toBe(false);
  });

  it("link back to the page with the filters that are set", () => {
    expect(flowsHref({ namespace: "shop", since: "1h" }, { why: "42" })).toBe(
      "/flows?namespace=shop&since=1h&why=42",
    );
    expect(flowsHref({})).toBe("/flows");
  });

  it("name an end by its pod and address, and a default deny by its policies", () => {
    expect(endLabel("10.0.0.1", "shop/db-0", 5432)).toBe("shop/db-0 (10.0.0.1:5432)");
    expect(endLabel("fd00::1", undefined, 53)).toBe("[fd00::1]:53");
    expect(dropRuleLabel({ ruleId: "default-deny", policies: ["a/b", "a/c"] })).toBe(
      "default deny of a/b, a/c",
    );
    expect(dropRuleLabel({ ruleId: "a/b/ingressDeny[0]", policies: ["a/b"] })).toBe("a/b/ingressDeny[0]");
  });
});
