// The agent's check of a desired state before it enforces one: real compiled states pass (after the
// JSON round trip they make to disk and over the wire), and a state that is malformed, hand-edited
// or from a delta applied onto the wrong base is refused with the field and the reason.
import { describe, expect, it } from "vitest";
import { compileNodeState } from "../compiler/compile";
import { goldenCluster } from "../compiler/sections-golden.test-helpers";
import { checkDesiredState, contentHashOf } from "./desired-state-check";

const snapshot = goldenCluster();
/** What an agent receives: the compiled state after a JSON round trip. */
const received = (node = "n1") => JSON.parse(JSON.stringify(compileNodeState(snapshot, node)));

describe("an agent's check of a desired state", () => {
  it("accepts every node's compiled state, and its hash is the compiler's", () => {
    for (const n of snapshot.nodes) {
      const state = received(n.name);
      expect(contentHashOf(state)).toBe(state.contentHash);
      const checked = checkDesiredState(state);
      expect(checked).toEqual({ ok: true, state, ignoredSections: [] });
    }
  });

  it("refuses a value out of its field's range, naming the field", () => {
    const state = received();
    state.ipcache[0].prefix = "10.0.0.1/33";
    const withRules = state.endpoints.findIndex((e: { entries: unknown[] }) => e.entries.length > 0);
    expect(withRules).toBeGreaterThanOrEqual(0);
    state.endpoints[withRules].entries[0].portHigh = 70000;
    const checked = checkDesiredState(state);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.reason).toContain("ipcache[0].prefix:");
    expect(checked.reason).toContain(`endpoints[${withRules}].entries[0].portHigh:`);
  });

  it("refuses an unknown field inside a section it knows", () => {
    const state = received();
    state.endpoints[0].mirrorTo = "10.9.9.9";
    const checked = checkDesiredState(state);
    expect(checked).toMatchObject({ ok: false });
    expect(checked.ok ? "" : checked.reason).toMatch(/^endpoints\[0\]: Unrecognized key: "mirrorTo"/);
  });

  it("refuses a state whose content does not hash to the hash it names (a hand edit, a wrong base)", () => {
    const state = received();
    state.ipcache[0].identity = state.ipcache[0].identity === 2 ? 3 : 2;
    const checked = checkDesiredState(state);
    expect(checked.ok).toBe(false);
    expect(checked.ok ? "" : checked.reason).toMatch(
      /^contentHash: the state hashes to [0-9a-f]{12}…, not to the/,
    );
  });

  it("leaves out, and names, a section a newer control plane added (hashed in with the rest)", () => {
    const state = received();
    const newer = { ...state, tunnels: [{ vni: 7 }] };
    newer.contentHash = contentHashOf(newer);
    const checked = checkDesiredState(newer);
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.ignoredSections).toEqual(["tunnels"]);
    expect(Object.keys(checked.state)).not.toContain("tunnels");
    expect(checked.state.ipcache).toEqual(state.ipcache);
  });

  it("refuses what is not a state at all", () => {
    expect(checkDesiredState(null)).toEqual({ ok: false, reason: "desired state: not an object" });
    expect(checkDesiredState([1])).toMatchObject({ ok: false });
    const missing = checkDesiredState({ revision: 1 });
    expect(missing.ok ? "" : missing.reason).toMatch(/^node: .* \(and \d+ more\)$/);
  });
});
