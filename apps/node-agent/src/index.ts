// Public surface of the node agent for other packages (the lab, tools).
export { Agent, type AgentOptions } from "./agent/daemon.js";
export type { AgentStatusView, EndpointView } from "./agent/protocol.js";
export { AGENT_BIN, CNI_BIN, type CniInvocation, type CniOutcome, invokeCni } from "./cni/invoke.js";
export { CniCode } from "./cni/spec.js";
export { type AgentConfig, loadConfig } from "./config.js";
export {
  type AgentEndpoint,
  type Datapath,
  type FlowEvent,
  UnenforcedDatapath,
} from "./features/policy/datapath.js";
