// The routing subsystem: routes to other nodes' PodCIDRs.
export { RoutingFeature, routingCli, routingStatusSchema } from "./feature.js";
export { desiredPeerRoutes, type PeerNode, type PeerRoute, reconcilePeerRoutes } from "./node-routes.js";
