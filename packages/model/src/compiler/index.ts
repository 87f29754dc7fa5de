// Public surface of the desired-state compiler, shared by the API (what-if, sync) and the agent.
export { compileNodeState, UnknownNodeError } from "./compile";
export { canonicalJson, sha256Hex } from "./hash";
export * from "./identity";
export { lookupIpcache } from "./ipcache";
export { nodeDesiredStateSchema, SECTIONS } from "./sections/registry";
export type { CompilerSection, SectionContext } from "./sections/section";
export * from "./snapshot";
export * from "./types";
export {
  type DirectionCheck,
  evaluateEntries,
  UnknownEndpointError,
  type WhatIfDestination,
  type WhatIfQuery,
  type WhatIfResult,
  whatIf,
  whatIfQuerySchema,
} from "./whatIf";
