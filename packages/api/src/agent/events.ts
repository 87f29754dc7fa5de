// The desired-state stream's events, and how an agent applies them. Pure: the agent imports
// this too. A `delta` replaces whole top-level sections (endpoints, ipcache, bgp, …) and names
// the content hash it applies to, so an agent that missed something notices instead of drifting.
import { createHash } from "node:crypto";
import type { NodeDesiredState } from "../compiler";

type Section = Exclude<keyof NodeDesiredState, "revision" | "contentHash">;

export type DesiredStateEvent =
  | { type: "snapshot"; revision: number; contentHash: string; state: NodeDesiredState }
  | {
      type: "delta";
      revision: number;
      contentHash: string;
      baseContentHash: string;
      changed: Partial<Pick<NodeDesiredState, Section>>;
    }
  | { type: "unchanged"; revision: number; contentHash: string };

export class DesiredStateGapError extends Error {
  constructor(have: string | null, base: string) {
    super(
      `delta applies to state ${base}, but this agent has ${have ?? "none"}: resubscribe without lastRevision`,
    );
    this.name = "DesiredStateGapError";
  }
}

/** The state after `event`; throws DesiredStateGapError when a delta does not fit `current`. */
export function applyDesiredStateEvent(
  current: NodeDesiredState | null,
  event: DesiredStateEvent,
): NodeDesiredState {
  switch (event.type) {
    case "snapshot":
      return event.state;
    case "delta":
      if (!current || current.contentHash !== event.baseContentHash) {
        throw new DesiredStateGapError(current?.contentHash ?? null, event.baseContentHash);
      }
      return { ...current, ...event.changed, revision: event.revision, contentHash: event.contentHash };
    case "unchanged":
      if (!current || current.contentHash !== event.contentHash)
        throw new DesiredStateGapError(current?.contentHash ?? null, event.contentHash);
      return { ...current, revision: event.revision };
  }
}

// Compiled states are never mutated, and the compiler hands every subscriber of a node the same
// peer list while the nodes do not change: remember a section object's fingerprint, so a thousand
// subscribers do not serialize and hash the same thousand-entry list again on every revision.
const fingerprintCache = new WeakMap<object, string>();

function fingerprint(value: unknown): string {
  if (value === null || typeof value !== "object")
    return createHash("sha1").update(JSON.stringify(value)).digest("base64");
  let fp = fingerprintCache.get(value);
  if (fp === undefined) {
    fp = createHash("sha1").update(JSON.stringify(value)).digest("base64");
    fingerprintCache.set(value, fp);
  }
  return fp;
}

/** Per-section fingerprints, kept per subscriber so a delta carries only what changed. */
export function sectionFingerprints(state: NodeDesiredState): Map<Section, string> {
  const out = new Map<Section, string>();
  for (const [key, value] of Object.entries(state)) {
    if (key === "revision" || key === "contentHash") continue;
    out.set(key as Section, fingerprint(value));
  }
  return out;
}

export function changedSections(
  state: NodeDesiredState,
  now: Map<Section, string>,
  before: Map<Section, string>,
): Partial<Pick<NodeDesiredState, Section>> {
  const changed: Partial<Record<Section, unknown>> = {};
  for (const [key, fp] of now) if (before.get(key) !== fp) changed[key] = state[key];
  return changed as Partial<Pick<NodeDesiredState, Section>>;
}
