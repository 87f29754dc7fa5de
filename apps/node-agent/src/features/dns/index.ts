// The DNS subsystem: FQDN policy's transparent DNS proxy.
export { DnsFeature, dnsCli, dnsStatusSchema } from "./feature.js";
export { DnsProxy } from "./proxy.js";
