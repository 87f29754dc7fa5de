// One area of a node's desired state (policy, routing, bgp, egress, srv6…): the top-level keys of
// NodeDesiredState it fills, their zod schema, and the function that compiles them from a
// snapshot. The compiler (../compile.ts) runs the sections of registry.ts in order; the desired
// state's schema is theirs put together. A new feature is one section file and one registry line.
import type { z } from "zod";
import type { ClusterSnapshot, SnapshotNode } from "../snapshot";
import type { SnapshotIndex } from "../snapshotIndex";
import type { CompileProblem, NodeDesiredState } from "../types";

/** Everything of a node's state but its revision, hash and problems: the sections' keys. */
export type DesiredBody = Omit<NodeDesiredState, "revision" | "contentHash" | "problems">;
export type SectionKey = keyof DesiredBody;

/** What a section compiles from: one snapshot, one node, and the other sections' output. */
export interface SectionContext {
  readonly snapshot: ClusterSnapshot;
  readonly node: SnapshotNode;
  /** The snapshot's index, built once per snapshot (../snapshotIndex.ts). */
  readonly index: SnapshotIndex;
  /** Another section's output, compiled first if it has not been (e.g. bgp reads srv6's VRFs). */
  output<S extends AnySection>(section: S): SectionState<S>;
  /** Intent this node's state leaves out, in words; listed in `problems` in the order found. */
  problem(problem: CompileProblem): void;
}

export interface CompilerSection<K extends SectionKey> {
  /** The area's name ("policy", "bgp"). */
  readonly name: string;
  /** The keys it fills, in the order they appear in the state. */
  readonly keys: readonly K[];
  /** The schema of those keys: together the sections' schemas make the desired state's. */
  readonly schema: z.ZodObject<{ [P in K]: z.ZodType<DesiredBody[P]> }>;
  compile(ctx: SectionContext): Pick<DesiredBody, K>;
  /**
   * canonicalJson of one of its keys' values when the section can build it faster than the
   * generic walk (the peer list, the same for every node but one entry); must be equal to it.
   */
  canonicalJson?(key: K, ctx: SectionContext): string | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds sections of every key set
export type AnySection = CompilerSection<any>;
export type SectionState<S> = S extends CompilerSection<infer K> ? Pick<DesiredBody, K> : never;

/** A section, its keys checked against its schema's. */
export function defineSection<K extends SectionKey>(section: CompilerSection<K>): CompilerSection<K> {
  return section;
}
