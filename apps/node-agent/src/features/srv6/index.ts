export { Srv6Feature, srv6Cli, srv6StatusSchema } from "./feature.js";
export * from "./kernel.js";
export * from "./plan.js";
