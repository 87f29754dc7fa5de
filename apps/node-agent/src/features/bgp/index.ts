// The BGP subsystem (component "bgp"): the node's BGP instances, their CLI and status.
export { bgpCli, formatPeers, formatRoutes, formatUptime } from "./cli.js";
export {
  type ApplyContext,
  BgpController,
  type BgpControllerOptions,
  type LookingGlassRoute,
  type VpnRoute,
} from "./controller.js";
export { BgpFeature } from "./feature.js";
export { lookingGlassSnapshot } from "./looking-glass.js";
export { type AdvertisedRoute, importPolicyConfig, parseFamily, planBgp } from "./plan.js";
export { recordGracefulStop, takeGracefulStop } from "./restart.js";
export {
  type BgpComponentStatus,
  type BgpPeerReport,
  type BgpStatus,
  bgpComponentStatus,
  bgpComponentStatusSchema,
} from "./status.js";
export { nativeTransport } from "./transport.js";
