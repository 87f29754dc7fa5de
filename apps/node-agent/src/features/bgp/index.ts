export { formatPeers, formatRoutes, formatUptime } from "./cli.js";
export {
  type ApplyContext,
  BgpController,
  type BgpControllerOptions,
  type LookingGlassRoute,
  type VpnRoute,
} from "./controller.js";
export { lookingGlassSnapshot } from "./looking-glass.js";
export { type AdvertisedRoute, importPolicyConfig, parseFamily, planBgp } from "./plan.js";
export { recordGracefulStop, takeGracefulStop } from "./restart.js";
export { type BgpPeerReport, type BgpStatus, bgpComponentStatus } from "./status.js";
export { nativeTransport } from "./transport.js";
