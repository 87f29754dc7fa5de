// @meridian/model: what API, agent and console share, and the only entry to it (tests add
// `@meridian/model/testing`). Pure: no database, no network, no process state.

// The desired-state stream and the agent's side of the channel: events, the check an agent runs
// on every state, what it reports and the status of each of its components.
export * from "./agent/desired-state-check";
export * from "./agent/events";
export * from "./agent/schemas";
export * from "./agent/status-schemas";
export * from "./bgp/looking-glass-schemas";
export * from "./bgp/session-schemas";
// The desired-state compiler (sections, hashes, identities) and what-if.
export * from "./compiler";
export {
  CLUSTER_LABEL,
  CLUSTER_NAME,
  endpointLabels,
  NAMESPACE_LABEL,
  policyKey,
  policySelectsEndpoint,
} from "./compiler/selection";
export { compileSrv6 } from "./compiler/srv6";
export {
  applySrv6AllocationPlan,
  functionCapacity,
  locatorCapacity,
  planSrv6Allocations,
  type Srv6AllocationInput,
  type Srv6AllocationPlan,
} from "./compiler/srv6Allocations";
export * from "./dns/schemas";
export * from "./flows/reasons";
// Specs: the zod schemas of every object, with the limits console, API and agent all apply.
export * from "./spec";
