// A small cluster for compiler tests: three nodes, pods in two namespaces, specs parsed through
// the real schemas so that defaults are what the API would store.

import {
  type ClusterSnapshot,
  emptySnapshot,
  type SnapshotEndpoint,
  type SnapshotPolicy,
} from "../src/compiler/snapshot";
import { applySrv6AllocationPlan, planSrv6Allocations } from "../src/compiler/srv6Allocations";
import {
  type BgpAdvertisementSpecInput,
  type BgpPeerSpecInput,
  bgpAdvertisementSpecSchema,
  bgpInstanceSpecSchema,
  bgpPeerSpecSchema,
  type EgressGatewayPolicySpecInput,
  egressGatewayPolicySpecSchema,
  type NetworkPolicySpecInput,
  networkPolicySpecSchema,
  type Srv6LocatorPoolSpecInput,
  type Srv6VrfSpecInput,
  srv6LocatorPoolSpecSchema,
  srv6VrfSpecSchema,
} from "../src/spec";

export function endpoint(
  id: string,
  node: string,
  namespace: string,
  labels: Record<string, string>,
  ipv4: string,
  identity: number,
): SnapshotEndpoint {
  return { id, node, namespace, name: id.split("/")[1] ?? id, labels, ipv4, identity };
}

export function policy(
  name: string,
  namespace: string | null,
  spec: NetworkPolicySpecInput,
  enabled = true,
): SnapshotPolicy {
  return {
    id: `pol-${name}`,
    name,
    namespace,
    enabled,
    version: 1,
    spec: networkPolicySpecSchema.parse(spec),
  };
}

export function egressPolicy(name: string, spec: EgressGatewayPolicySpecInput) {
  return { id: `egw-${name}`, name, spec: egressGatewayPolicySpecSchema.parse(spec) };
}

export function bgpPeer(name: string, spec: Omit<BgpPeerSpecInput, "password">, passwordRef?: string) {
  return {
    id: `peer-${name}`,
    name,
    spec: bgpPeerSpecSchema.parse(spec),
    hasPassword: passwordRef !== undefined,
    ...(passwordRef ? { passwordRef } : {}),
  };
}

export function bgpAdvertisement(name: string, spec: BgpAdvertisementSpecInput) {
  return { id: `ad-${name}`, name, spec: bgpAdvertisementSpecSchema.parse(spec) };
}

export function bgpInstance(
  name: string,
  spec: { nodeSelector: object; localASN: number; routerID?: string },
) {
  return { id: `inst-${name}`, name, spec: bgpInstanceSpecSchema.parse(spec) };
}

export function locatorPool(name: string, spec: Srv6LocatorPoolSpecInput) {
  return { id: `pool-${name}`, name, spec: srv6LocatorPoolSpecSchema.parse(spec) };
}

export function vrf(name: string, spec: Srv6VrfSpecInput) {
  return { id: `vrf-${name}`, name, spec: srv6VrfSpecSchema.parse(spec) };
}

export const WEB = endpoint("prod/web-1", "n1", "prod", { app: "web" }, "10.1.1.10", 1001);
export const CLIENT = endpoint("prod/client-1", "n1", "prod", { app: "client" }, "10.1.1.11", 1003);
export const DB = endpoint("prod/db-1", "n2", "prod", { app: "db" }, "10.1.2.20", 1002);
export const DEV_DB = endpoint("dev/db-1", "n2", "dev", { app: "db" }, "10.1.2.30", 1004);
export const DNS = endpoint(
  "kube-system/coredns-1",
  "n3",
  "kube-system",
  { "k8s-app": "kube-dns" },
  "10.1.3.53",
  1005,
);

/** The snapshot with SRv6 locators and SIDs allocated as the API would store them. */
export function withSrv6Allocations(snapshot: ClusterSnapshot): ClusterSnapshot {
  const plan = planSrv6Allocations({
    nodes: snapshot.nodes,
    pools: snapshot.srv6LocatorPools,
    vrfs: snapshot.srv6Vrfs,
    held: snapshot.srv6Allocations,
  });
  return { ...snapshot, srv6Allocations: applySrv6AllocationPlan(snapshot.srv6Allocations, plan) };
}

export function cluster(overrides: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  const endpoints = [WEB, CLIENT, DB, DEV_DB, DNS];
  return {
    ...emptySnapshot(7),
    nodes: [
      {
        name: "n1",
        labels: { rack: "a", bgp: "yes" },
        addresses: ["192.168.0.11/24"],
        podCIDRs: ["10.1.1.0/24", "fd00:1:1::/64"],
      },
      {
        name: "n2",
        labels: { rack: "b", egress: "gw" },
        addresses: ["192.168.0.12/24"],
        podCIDRs: ["10.1.2.0/24"],
      },
      { name: "n3", labels: { rack: "b" }, addresses: ["192.168.0.13/24"], podCIDRs: ["10.1.3.0/24"] },
    ],
    endpoints,
    identities: endpoints.map((ep) => ({ id: ep.identity, labels: ep.labels })),
    ...overrides,
  };
}
