// The policy subsystem (component "datapath"): endpoints, ipcache and policy maps.
export { policyCli } from "./cli.js";
export { type DatapathCounter, type FlowEvent, type PolicyDatapath, UnenforcedDatapath } from "./datapath.js";
export { EbpfDatapath, ebpfUnsupportedReason } from "./ebpf-datapath.js";
export { datapathStatusSchema, PolicyFeature } from "./feature.js";
export { openPolicyDatapath } from "./open.js";
