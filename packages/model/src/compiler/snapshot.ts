// The compiler's input: everything the control plane knows at one revision, already validated.
// The API builds it from the database; tests build it by hand. No secrets: BGP passwords stay
// server-side and only a reference travels to the node that needs it.
import type {
  BgpAdvertisementSpec,
  BgpInstanceSpec,
  BgpPeerSpec,
  EgressGatewayPolicySpec,
  EndpointPort,
  Labels,
  NetworkPolicySpec,
  Srv6LocatorPoolSpec,
  Srv6PolicySpec,
  Srv6VrfSpec,
} from "../spec";

export interface SnapshotNode {
  name: string;
  labels: Labels;
  /** Bare IPs or interface addresses with prefix length, e.g. `192.168.10.11/24`. */
  addresses: string[];
  podCIDRs: string[];
}

export interface SnapshotEndpoint {
  id: string;
  node: string;
  namespace: string;
  name: string;
  labels: Labels;
  ipv4?: string;
  ipv6?: string;
  /** Named container ports; a policy's named port resolves against these. */
  ports?: EndpointPort[];
  identity: number;
}

export interface SnapshotIdentity {
  id: number;
  labels: Labels;
}

export interface SnapshotPolicy {
  id: string;
  name: string;
  /** null for clusterwide policies (CiliumClusterwideNetworkPolicy). */
  namespace: string | null;
  enabled: boolean;
  version: number;
  spec: NetworkPolicySpec;
}

export interface SnapshotObject<S> {
  id: string;
  name: string;
  version?: number;
  spec: S;
}

export type SnapshotEgressPolicy = SnapshotObject<EgressGatewayPolicySpec>;
export type SnapshotBgpInstance = SnapshotObject<BgpInstanceSpec>;
/** A peer as the compiler sees it: the password is replaced by a reference the agent resolves. */
export type SnapshotBgpPeer = SnapshotObject<Omit<BgpPeerSpec, "password">> & {
  hasPassword: boolean;
  /** Opaque handle the agent exchanges for the MD5 key over its authenticated channel. */
  passwordRef?: string;
  /** Changes each time the password is set (see `secretVersion`); never derived from the password. */
  passwordVersion?: string;
};
export type SnapshotBgpAdvertisement = SnapshotObject<BgpAdvertisementSpec>;
export type SnapshotSrv6LocatorPool = SnapshotObject<Srv6LocatorPoolSpec>;
export type SnapshotSrv6Vrf = SnapshotObject<Srv6VrfSpec>;
export type SnapshotSrv6Policy = SnapshotObject<Srv6PolicySpec>;

/**
 * SRv6 locators and SIDs as allocated and stored by the control plane (../srv6/allocations.ts),
 * by node, pool and VRF name. The compiler only reads them: a SID never depends on the order or
 * number of nodes.
 */
export interface SnapshotSrv6Allocations {
  /** The node's locator is the `slot`-th locator-length prefix inside the pool's prefix. */
  locators: { node: string; pool: string; slot: number }[];
  /** The VRF's SID on the node: `function` in the function bits under the node's locator. */
  sids: { node: string; vrf: string; pool: string; function: number }[];
}

export interface SnapshotService {
  namespace: string;
  name: string;
  labels: Labels;
  clusterIPs: string[];
  loadBalancerIPs: string[];
  externalIPs: string[];
}

export interface ClusterSnapshot {
  revision: number;
  /** The inventory generation read with it (endpoints change without revisions); 0 if unknown. */
  inventory?: number;
  nodes: SnapshotNode[];
  endpoints: SnapshotEndpoint[];
  identities: SnapshotIdentity[];
  policies: SnapshotPolicy[];
  egressPolicies: SnapshotEgressPolicy[];
  bgpInstances: SnapshotBgpInstance[];
  bgpPeers: SnapshotBgpPeer[];
  bgpAdvertisements: SnapshotBgpAdvertisement[];
  services: SnapshotService[];
  srv6LocatorPools: SnapshotSrv6LocatorPool[];
  srv6Vrfs: SnapshotSrv6Vrf[];
  srv6Policies: SnapshotSrv6Policy[];
  srv6Allocations: SnapshotSrv6Allocations;
}

/** A snapshot with every collection empty, to spread over in tests and bootstrapping. */
export function emptySnapshot(revision = 0): ClusterSnapshot {
  return {
    revision,
    nodes: [],
    endpoints: [],
    identities: [],
    policies: [],
    egressPolicies: [],
    bgpInstances: [],
    bgpPeers: [],
    bgpAdvertisements: [],
    services: [],
    srv6LocatorPools: [],
    srv6Vrfs: [],
    srv6Policies: [],
    srv6Allocations: { locators: [], sids: [] },
  };
}
