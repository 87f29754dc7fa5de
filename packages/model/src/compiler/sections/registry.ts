// The sections of a node's desired state, in the order they appear in it: the one list to change
// when a feature adds an area of desired state (see docs/ARCHITECTURE.md §8). A section that needs
// another's output asks for it (ctx.output), so the order is that of the state, not of compiling.
import { z } from "zod";
import type { NodeDesiredState } from "../types";
import { bgpSection } from "./bgp";
import { egressSection } from "./egress";
import { nodeSection } from "./node";
import { policySection } from "./policy";
import { routingSection } from "./routing";
import type { AnySection } from "./section";
import { srv6Section } from "./srv6";

export const SECTIONS = [
  nodeSection,
  routingSection,
  policySection,
  egressSection,
  bgpSection,
  srv6Section,
] as const satisfies readonly AnySection[];

export const compileProblemSchema = z.strictObject({
  area: z.enum(["policy", "egress", "bgp", "srv6"]),
  object: z.string(),
  message: z.string(),
});

type Shapes<S extends readonly AnySection[]> = S extends readonly [
  infer H,
  ...infer T extends readonly AnySection[],
]
  ? (H extends { schema: z.ZodObject<infer Shape> } ? Shape : never) & Shapes<T>
  : unknown;

const sectionShapes = Object.assign({}, ...SECTIONS.map((s) => s.schema.shape)) as Shapes<typeof SECTIONS>;

/** A node's desired state: the revision, every section's keys, the problems, the content hash. */
export const nodeDesiredStateSchema = z.strictObject({
  revision: z.number().int(),
  ...sectionShapes,
  /** Intent that could not be compiled for this node, in words; the rest still applies. */
  problems: z.array(compileProblemSchema),
  /** sha256 over each section's name and the sha256 of its canonical JSON (revision left out). */
  contentHash: z.string(),
});

// The schema and the compiler's types (../types.ts) describe one thing: either drifting from the
// other fails the type-check here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesTypes: Same<z.infer<typeof nodeDesiredStateSchema>, NodeDesiredState> = true;
void schemaMatchesTypes;
