// Public surface of the shared schemas: console, API and agent import from here.
export * from "./bgp";
export * from "./ciliumSource";
export * from "./common";
export * from "./egressGateway";
export * from "./fqdn";
export * from "./inventory";
export * from "./ip";
export * from "./labels";
export * from "./limits";
export * from "./networkPolicy";
export * from "./srv6";
