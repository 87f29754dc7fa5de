// Public surface of the node agent for other packages (the lab, tools).
export { Agent, type AgentOptions } from "./agent/daemon.js";
export type { AgentEndpoint } from "./agent/endpoints.js";
export type { AgentStatusView, EndpointView } from "./agent/protocol.js";
export { AGENT_BIN, CNI_BIN, type CniInvocation, type CniOutcome, invokeCni } from "./cni/invoke.js";
export { CniCode } from "./cni/spec.js";
export { type AgentConfig, loadConfig } from "./config.js";
export type { AgentFeature } from "./features/feature.js";
export { type FlowEvent, type PolicyDatapath, UnenforcedDatapath } from "./features/policy/datapath.js";
