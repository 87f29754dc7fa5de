// What an agent checks before it enforces a desired state, whether it came over the stream or from
// its own disk: the shape (the compiler's schema, so limits and formats are the control plane's)
// and the content hash (recomputed, so a delta applied onto the wrong base, a truncated file or a
// hand-edited one is caught before any map is touched). Pure: the agent imports it.
import { z } from "zod";
import { contentHashOf } from "../compiler/hash";
import { nodeDesiredStateSchema } from "../compiler/sections/registry";
import type { NodeDesiredState } from "../compiler/types";
import { formatFieldPath } from "../spec/common";

export { contentHashOf };

// Top-level sections this agent does not know are a newer control plane's features: they are left
// out (and named), not a reason to refuse everything else. Inside a known section the schema is
// strict: an unknown field there changes the meaning of what this agent would enforce.
const knownSections = z.object(nodeDesiredStateSchema.shape);
const KNOWN = new Set(Object.keys(nodeDesiredStateSchema.shape));

export type DesiredStateCheck =
  | { ok: true; state: NodeDesiredState; ignoredSections: string[] }
  | { ok: false; reason: string };

const MAX_ISSUES = 3;

export function checkDesiredState(input: unknown): DesiredStateCheck {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return { ok: false, reason: "desired state: not an object" };
  const raw = input as Record<string, unknown>;
  const ignoredSections = Object.keys(raw)
    .filter((k) => !KNOWN.has(k))
    .sort();
  const parsed = knownSections.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const shown = issues
      .slice(0, MAX_ISSUES)
      .map((i) => `${formatFieldPath(i.path) || "(state)"}: ${i.message}`);
    const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : "";
    return { ok: false, reason: `${shown.join("; ")}${more}` };
  }
  // The hash covers every section the control plane sent, known to this agent or not.
  const computed = contentHashOf(raw);
  if (computed !== parsed.data.contentHash) {
    return {
      ok: false,
      reason: `contentHash: the state hashes to ${computed.slice(0, 12)}…, not to the ${String(parsed.data.contentHash).slice(0, 12)}… it names`,
    };
  }
  return { ok: true, state: parsed.data as NodeDesiredState, ignoredSections };
}
