// compileNodeState: a node's whole desired state from one cluster snapshot, section by section
// (sections/registry.ts). Pure and deterministic, so the API, the agent and the what-if view all
// derive the same answer from the same snapshot.
import { contentHashOf } from "./hash";
import { SECTIONS } from "./sections/registry";
import type { AnySection, DesiredBody, SectionContext, SectionState } from "./sections/section";
import type { ClusterSnapshot } from "./snapshot";
import { indexSnapshot } from "./snapshotIndex";
import type { CompileProblem, NodeDesiredState } from "./types";

export class UnknownNodeError extends Error {
  constructor(readonly nodeName: string) {
    super(`node "${nodeName}" is not in the cluster snapshot`);
    this.name = "UnknownNodeError";
  }
}

const nodesByName = new WeakMap<ClusterSnapshot, Map<string, ClusterSnapshot["nodes"][number]>>();

function nodeNamed(snapshot: ClusterSnapshot, nodeName: string) {
  let byName = nodesByName.get(snapshot);
  if (!byName) {
    byName = new Map();
    for (const n of snapshot.nodes) if (!byName.has(n.name)) byName.set(n.name, n);
    nodesByName.set(snapshot, byName);
  }
  return byName.get(nodeName);
}

export function compileNodeState(snapshot: ClusterSnapshot, nodeName: string): NodeDesiredState {
  const node = nodeNamed(snapshot, nodeName);
  if (!node) throw new UnknownNodeError(nodeName);

  const problems: CompileProblem[] = [];
  const outputs = new Map<AnySection, Partial<DesiredBody>>();
  const ctx: SectionContext = {
    snapshot,
    node,
    index: indexSnapshot(snapshot),
    output: <S extends AnySection>(section: S) => run(section) as SectionState<S>,
    problem: (p) => problems.push(p),
  };
  const run = (section: AnySection) => {
    let out = outputs.get(section);
    if (!out) {
      out = section.compile(ctx) as Partial<DesiredBody>;
      outputs.set(section, out);
    }
    return out;
  };

  // The state's keys in the registry's order, each from the section that owns it.
  const body = {} as Record<string, unknown>;
  for (const section of SECTIONS) {
    const out = run(section) as Record<string, unknown>;
    for (const key of section.keys) body[key] = out[key];
  }
  body.problems = problems;
  // The revision is left out of the hash: a change elsewhere in the cluster must not look like a change here.
  return {
    revision: snapshot.revision,
    ...(body as DesiredBody & { problems: CompileProblem[] }),
    contentHash: hashOf(body, ctx),
  };
}

// The content hash is a hash of per-section hashes: equal states hash equally and any change in a
// section changes it, and a section may build its canonical JSON faster than the generic walk
// (the peer list, 999 entries at 1,000 nodes, is hashed once instead of per node and revision).
const OWNER = new Map<string, AnySection>(
  SECTIONS.flatMap((s) => s.keys.map((k: string) => [k, s] as const)),
);

function hashOf(body: Record<string, unknown>, ctx: SectionContext): string {
  return contentHashOf(body, (key) => OWNER.get(key)?.canonicalJson?.(key, ctx));
}
