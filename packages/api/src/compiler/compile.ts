// compileNodeState: a node's whole desired state from one cluster snapshot. Pure and deterministic,
// so the API, the agent and the what-if view all derive the same answer from the same snapshot.
import { parseCidr } from "../spec";
import { compileBgp } from "./bgp";
import { compileEgressGateway } from "./egress";
import { byText, canonicalJson, sha256Hex } from "./hash";
import { RESERVED_IDENTITY_NAMES } from "./identity";
import { buildIpcache } from "./ipcache";
import {
  allocateRuleIdentities,
  compileEndpointPolicy,
  type RuleRef,
  rulePrefixes,
  rulesOf,
  selectedEndpointIdentities,
  selectingPolicies,
} from "./policy";
import type { ClusterSnapshot } from "./snapshot";
import { addressesShadowedBy, indexSnapshot, type SnapshotIndex } from "./snapshotIndex";
import { compileSrv6 } from "./srv6";
import type { IdentityState, LocalEndpointState, NodeDesiredState } from "./types";

export class UnknownNodeError extends Error {
  constructor(readonly nodeName: string) {
    super(`node "${nodeName}" is not in the cluster snapshot`);
    this.name = "UnknownNodeError";
  }
}

export function compileNodeState(snapshot: ClusterSnapshot, nodeName: string): NodeDesiredState {
  const node = snapshot.nodes.find((n) => n.name === nodeName);
  if (!node) throw new UnknownNodeError(nodeName);

  const index = indexSnapshot(snapshot);
  const localEndpoints = snapshot.endpoints
    .filter((ep) => ep.node === nodeName)
    .sort((a, b) => byText(a.id, b.id));
  // Only the rules of policies that select a local pod shape this node's identities and ipcache.
  const localRules = [
    ...new Set(localEndpoints.flatMap((ep) => selectingPolicies(snapshot.policies, ep, index))),
  ].flatMap(rulesOf);
  const local = allocateRuleIdentities(localRules);
  const endpointAddresses = neededEndpointAddresses(index, nodeName, localRules);
  const universe = {
    index,
    local,
    ipcacheIdentities: [...new Set(endpointAddresses.map((a) => a.endpoint.identity))].sort((a, b) => a - b),
  };

  const endpoints: LocalEndpointState[] = localEndpoints.map((ep) => ({
    id: ep.id,
    namespace: ep.namespace,
    name: ep.name,
    labels: { ...ep.labels },
    ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
    ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
    identity: ep.identity,
    ...compileEndpointPolicy(ep, snapshot.policies, universe),
  }));

  const ipcache = buildIpcache(nodeName, index, endpointAddresses, local.cidr);

  const identityIds = new Set<number>([
    ...endpoints.map((ep) => ep.identity),
    ...endpoints.flatMap((ep) => ep.entries.map((e) => e.remoteIdentity)),
    ...ipcache.map((e) => e.identity),
  ]);
  const identities: IdentityState[] = [...identityIds]
    .filter((id) => id !== 0)
    .sort((a, b) => a - b)
    .map((id) => ({ id, labels: identityLabelsFor(id, index.identityLabels, local) }));

  const srv6 = compileSrv6(snapshot, nodeName);
  const body: Omit<NodeDesiredState, "revision" | "contentHash"> = {
    node: {
      name: node.name,
      labels: { ...node.labels },
      addresses: [...node.addresses].sort(byText),
      podCIDRs: [...node.podCIDRs].sort(byText),
    },
    peers: peerNodes(snapshot, nodeName),
    endpoints,
    identities,
    ipcache,
    egressGateway: compileEgressGateway(snapshot, nodeName),
    bgp: { instances: compileBgp(snapshot, node, srv6.vrfs) },
    srv6: { locators: srv6.locators, vrfs: srv6.vrfs, policies: srv6.policies },
    problems: srv6.problems,
  };
  // The revision is left out of the hash: a change elsewhere in the cluster must not look like a change here.
  return { revision: snapshot.revision, ...body, contentHash: sha256Hex(canonicalJson(body)) };
}

/** Other nodes that have PodCIDRs, sorted, with bare addresses (next hops for their PodCIDRs). */
function peerNodes(snapshot: ClusterSnapshot, nodeName: string): NodeDesiredState["peers"] {
  return snapshot.nodes
    .filter((n) => n.name !== nodeName && n.podCIDRs.length > 0)
    .sort((a, b) => byText(a.name, b.name))
    .map((n) => ({
      name: n.name,
      addresses: [...new Set(n.addresses.map((a) => a.split("/")[0] ?? a))].sort(byText),
      podCIDRs: [...n.podCIDRs].sort(byText),
    }));
}

/**
 * Pod addresses this node must map to their own identity: its own pods, pods its rules name by
 * selector, and pods inside a rule CIDR narrower than their PodCIDR (there the CIDR entry would
 * otherwise win the longest-prefix match and a CIDR rule would select a pod, which it must not).
 */
function neededEndpointAddresses(index: SnapshotIndex, nodeName: string, rules: RuleRef[]) {
  const needed = new Set(index.addressesByNode.get(nodeName) ?? []);
  for (const id of selectedEndpointIdentities(rules, index)) {
    for (const address of index.addressesByIdentity.get(id) ?? []) needed.add(address);
  }
  for (const prefix of rulePrefixes(rules)) {
    const parsed = parseCidr(prefix);
    if (parsed) for (const address of addressesShadowedBy(index, parsed)) needed.add(address);
  }
  return [...needed];
}

function identityLabelsFor(
  id: number,
  endpointIdentities: Map<number, Record<string, string>>,
  local: { cidr: Map<string, number>; fqdn: Map<string, number> },
): Record<string, string> {
  const reserved = RESERVED_IDENTITY_NAMES[id];
  if (reserved) return { [reserved]: "" };
  for (const [prefix, cidrId] of local.cidr) if (cidrId === id) return { [`cidr:${prefix}`]: "" };
  for (const [key, fqdnId] of local.fqdn) if (fqdnId === id) return { [`fqdn:${key}`]: "" };
  return { ...(endpointIdentities.get(id) ?? {}) };
}
