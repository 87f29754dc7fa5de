export { EgressFeature, egressCli, egressStatusSchema } from "./feature.js";
export * from "./kernel.js";
export * from "./plan.js";
