// The compiler's output: one node's desired state. Everything is sorted so that equal intent
// yields byte-equal JSON and an equal contentHash on every replica.
import type { BgpFamily, BgpImportPolicy, Labels } from "../spec";

export type Direction = "ingress" | "egress";
export type Verdict = "allow" | "deny";

/** IANA protocol numbers as the datapath matches them; 0 means any protocol. */
export const PROTOCOL_NUMBERS = { ANY: 0, ICMP: 1, TCP: 6, UDP: 17, ICMPv6: 58, SCTP: 132 } as const;

export interface PolicyEntry {
  direction: Direction;
  /** 0 = any identity. */
  remoteIdentity: number;
  /** 0 = any protocol. */
  protocol: number;
  /** Inclusive; 0..65535 means every port. */
  portLow: number;
  portHigh: number;
  verdict: Verdict;
  /** `<policy>/<ingress|egress|ingressDeny|egressDeny>[i]`, where `<policy>` is `namespace/name` or the clusterwide name. */
  ruleId: string;
}

export interface FqdnSelectorState {
  /** Identity that IPs learned for this selector get in the ipcache. */
  identity: number;
  matchName?: string;
  matchPattern?: string;
  ruleIds: string[];
}

export interface DnsRuleState {
  ruleId: string;
  /** Where the DNS proxy intercepts: port and protocol number (0 = any). */
  ports: { port: number; protocol: number }[];
  /** Names the proxy lets through; anything else is refused. */
  allowed: { matchName?: string; matchPattern?: string }[];
}

export interface LocalEndpointState {
  id: string;
  namespace: string;
  name: string;
  labels: Labels;
  ipv4?: string;
  ipv6?: string;
  identity: number;
  /** Default-deny applies in a direction once any enabled policy selecting the endpoint has rules for it. */
  policyEnforced: { ingress: boolean; egress: boolean };
  /**
   * Per direction, the selecting policies that put the endpoint under default deny there: what a
   * default-deny drop names (the datapath carries it as the endpoint's enforcement marker).
   */
  enforcedBy?: { ingress: string[]; egress: string[] };
  /** Names of the enabled policies that select this endpoint. */
  policies: string[];
  entries: PolicyEntry[];
  fqdnSelectors: FqdnSelectorState[];
  dnsRules: DnsRuleState[];
}

export type IpcacheSource = "endpoint" | "host" | "remote-node" | "cidr" | "pod-cidr" | "world";

export interface IpcacheEntry {
  prefix: string;
  identity: number;
  source: IpcacheSource;
}

export interface IdentityState {
  id: number;
  /** Labels for endpoint identities, `cidr:<prefix>` / `fqdn:<selector>` / `reserved:<name>` for the rest. */
  labels: Labels;
}

export interface EgressGatewayTarget {
  node: string;
  /** Where source nodes send steered traffic: the gateway node's first address. */
  nodeIP?: string;
  egressIP?: string;
  interface?: string;
  /** Within the first maxActiveGateways in node-name order; the rest are standbys. */
  active: boolean;
}

export interface EgressGatewayState {
  policy: string;
  isSource: boolean;
  isGateway: boolean;
  /** Local pods to steer (source role). */
  localSourceEndpoints: string[];
  /** Every source pod address, for SNAT and the return path (gateway role only). */
  sourceIPs: string[];
  destinationCIDRs: string[];
  excludedCIDRs: string[];
  gateways: EgressGatewayTarget[];
  ha: { healthCheckIntervalMs: number; healthCheckTimeoutMs: number; maxActiveGateways: number };
}

export interface BgpRouteState {
  prefix: string;
  advertisement: string;
  communities: string[];
  largeCommunities: string[];
  localPreference?: number;
  /** For VRF routes (VPNv4/VPNv6). */
  vrf?: string;
  routeDistinguisher?: string;
  routeTargets?: string[];
  sid?: string;
}

export interface BgpPeerState {
  name: string;
  address: string;
  peerASN: number;
  port: number;
  holdTimeSeconds: number;
  keepaliveSeconds: number;
  connectRetrySeconds: number;
  ebgpMultihop?: number;
  gracefulRestart?: { enabled: boolean; restartTimeSeconds: number };
  families: BgpFamily[];
  hasPassword: boolean;
  passwordRef?: string;
  /**
   * Changes whenever the password is set again, so a password change is a new desired state and
   * the agent fetches the key anew. Derived from the random IV stored with the ciphertext: it says
   * nothing about the password itself.
   */
  passwordVersion?: string;
  /** As in the peer spec; absent: every route the peer sends is kept for the looking glass. */
  importPolicy?: BgpImportPolicy;
  /** Install accepted unicast routes into the kernel; absent means false. */
  installRoutes?: boolean;
  routes: BgpRouteState[];
}

export interface BgpInstanceState {
  name: string;
  localASN: number;
  routerID?: string;
  peers: BgpPeerState[];
}

export interface Srv6LocatorState {
  pool: string;
  locator: string;
  structure: {
    locatorBlockLength: number;
    locatorNodeLength: number;
    functionLength: number;
    argumentLength: number;
  };
}

export interface Srv6VrfState {
  name: string;
  vrfID: number;
  behavior: "End.DT4" | "End.DT6" | "End.DT46";
  encapMode: "HEncaps" | "HEncapsRed";
  sid: string;
  routeDistinguisher?: string;
  importRouteTargets: string[];
  exportRouteTargets: string[];
  memberEndpoints: string[];
}

export interface Srv6PolicyState {
  name: string;
  vrf: string;
  vrfID: number;
  destination: string;
  segments: string[];
}

export interface CompileProblem {
  area: "policy" | "egress" | "bgp" | "srv6";
  object: string;
  message: string;
}

/** Another node, as this node's routing needs it: PodCIDRs reached via the node's addresses. */
export interface PeerNodeState {
  name: string;
  /** Bare IPs (no prefix length), the next hops for its PodCIDRs. */
  addresses: string[];
  podCIDRs: string[];
}

export interface NodeDesiredState {
  revision: number;
  node: { name: string; labels: Labels; addresses: string[]; podCIDRs: string[] };
  /** Every other node with PodCIDRs, by name: direct routes to their pods. */
  peers: PeerNodeState[];
  endpoints: LocalEndpointState[];
  identities: IdentityState[];
  ipcache: IpcacheEntry[];
  egressGateway: EgressGatewayState[];
  bgp: { instances: BgpInstanceState[] };
  srv6: { locators: Srv6LocatorState[]; vrfs: Srv6VrfState[]; policies: Srv6PolicyState[] };
  /** Intent that could not be compiled for this node, in words; the rest still applies. */
  problems: CompileProblem[];
  /** sha256 of the canonical JSON of everything above except `revision`. */
  contentHash: string;
}
