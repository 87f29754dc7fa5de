// The desired-state stream's events, and how an agent applies them. Pure: the agent imports
// this too. A `delta` replaces whole top-level sections (endpoints, ipcache, bgp, …) and names
// the content hash it applies to, so an agent that missed something notices instead of drifting.
import type { NodeDesiredState } from "../compiler";
import { sectionHash } from "../compiler/hash";

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

/** Per-section fingerprints, kept per subscriber so a delta carries only what changed. */
export function sectionFingerprints(state: NodeDesiredState): Map<Section, string> {
  const out = new Map<Section, string>();
  for (const [key, value] of Object.entries(state)) {
    if (key === "revision" || key === "contentHash") continue;
    // The hashes the compiler computed for the content hash (see compiler/hash.ts).
    out.set(key as Section, sectionHash(value));
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
