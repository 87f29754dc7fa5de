// The DNS subsystem: FQDN policy's transparent DNS proxy.
export { dnsCli } from "./cli.js";
export { DnsFeature, dnsStatusSchema } from "./feature.js";
export { DnsProxy } from "./proxy.js";
