// The section registry: every key of a node's state has exactly one section, the state's schema is
// the sections' schemas put together, and what the compiler emits fits it exactly (strict: a field
// the compiler adds without a schema fails here).
import { describe, expect, it } from "vitest";
import { compileNodeState } from "../compile";
import { goldenCluster } from "../sections-golden.test-helpers";
import { nodeDesiredStateSchema, SECTIONS } from "./registry";

describe("compiler sections", () => {
  const snapshot = goldenCluster();

  it("own each key of the state once, in the state's order", () => {
    const keys = SECTIONS.flatMap((s) => [...s.keys]);
    expect(new Set(keys).size).toBe(keys.length);
    const state = compileNodeState(snapshot, "n1");
    expect(Object.keys(state)).toEqual(["revision", ...keys, "problems", "contentHash"]);
    expect(Object.keys(nodeDesiredStateSchema.shape)).toEqual(Object.keys(state));
  });

  it("every node's compiled state fits the schema assembled from the sections", () => {
    for (const n of snapshot.nodes) {
      const state = compileNodeState(snapshot, n.name);
      expect(nodeDesiredStateSchema.parse(state)).toEqual(state);
    }
  });

  it("a field no section's schema has is refused, naming it", () => {
    const state = compileNodeState(snapshot, "n1");
    const extra = { ...state, srv6: { ...state.srv6, tunnels: [] } };
    const parsed = nodeDesiredStateSchema.safeParse(extra);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join("."), i.code])).toEqual([
      ["srv6", "unrecognized_keys"],
    ]);
  });
});
