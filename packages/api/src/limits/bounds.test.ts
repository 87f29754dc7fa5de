// Every field of every procedure's input has a limit of its own: a maximum length for text, a
// range for numbers, a maximum count for lists. The raw-input guard is the floor under all of
// them; this test makes sure no schema leans on the floor alone. A new procedure or field without
// a limit fails here, naming it.
import { describe, expect, it } from "vitest";
import { appRouter } from "../root";
import { procedureInput, walkSchema } from "../test/schema-walk";
import { INPUT_LIMITS } from "./raw-input";

const procedures = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { meta?: { longText?: Record<string, number> } } }
>;

/** Free-form values that are bounded only by the raw-input guard, and why that is enough. */
const FREE_FORM: Record<string, string> = {
  "agent.reportStatus components.[].detail.{}":
    "checked against the component's own schema (agent/status-schemas.ts) when it has one; a component without one yet is bounded by the guard",
  "agent.reportStatus summary.{}": "agent summary counters shown as JSON; bounded by the guard",
  "agent.join labels": "refused whenever present",
};

function problemsOf(path: string): string[] {
  const procedure = procedures[path]!;
  const schema = procedureInput(procedure);
  if (!schema) return [];
  const longText = procedure._def.meta?.longText ?? {};
  const { leaves, containers } = walkSchema(schema);
  const out: string[] = [];
  const name = (p: string[]) => `${path} ${p.join(".") || "(input)"}`;
  for (const leaf of leaves) {
    const field = name(leaf.path);
    if (leaf.kind === "string") {
      const dotted = leaf.path.filter((p) => p !== "[]" && p !== "{}").join(".");
      const allowed = longText[dotted] ?? INPUT_LIMITS.maxStringLength;
      if (leaf.format === "uuid") continue;
      if (leaf.maxLength === null) out.push(`${field}: text without a maximum length`);
      else if (leaf.maxLength > allowed) out.push(`${field}: maximum length ${leaf.maxLength} > ${allowed}`);
    } else if (leaf.kind === "number") {
      if (leaf.min === null || leaf.max === null) out.push(`${field}: number without a range`);
    } else if (leaf.kind === "unknown" || leaf.kind === "other") {
      if (!FREE_FORM[field]) out.push(`${field}: free-form value (${leaf.kind}) without a schema`);
    }
  }
  for (const c of containers) {
    if (c.kind === "array" && c.maxItems === null) out.push(`${name(c.path)}: list without a maximum count`);
  }
  return out;
}

describe("input bounds", () => {
  it("every text, number and list in every procedure's input has a limit", () => {
    const problems = Object.keys(procedures).sort().flatMap(problemsOf);
    expect(problems).toEqual([]);
  });
});
