import { describe, expect, it } from "vitest";
import { newLabel, singularLabel, singularWord } from "./plural";

describe("newLabel", () => {
  it.each([
    ["Egress gateway policies", "New egress gateway policy"],
    ["Static policies", "New static policy"],
    ["Locator pools", "New locator pool"],
    ["VRFs", "New VRF"],
    ["Instances", "New instance"],
    ["Advertisements", "New advertisement"],
    ["Network policies", "New network policy"],
    ["Egress addresses", "New egress address"],
    ["BGP peers", "New BGP peer"],
    ["SRv6 locators", "New SRv6 locator"],
  ])("%s → %s", (title, label) => {
    expect(newLabel(title)).toBe(label);
  });

  it("never leaves the old slip (policie) for any -ies title", () => {
    for (const t of ["Policies", "Egress gateway policies", "Static policies", "Entries"]) {
      expect(newLabel(t)).not.toMatch(/ie$/);
    }
  });

  it("keeps words that are not plural", () => {
    expect(singularWord("class")).toBe("class");
    expect(singularWord("status")).toBe("status");
    expect(singularWord("pool")).toBe("pool");
    expect(singularLabel("")).toBe("");
  });
});
