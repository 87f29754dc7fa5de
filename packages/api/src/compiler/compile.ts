// compileNodeState: a node's whole desired state from one cluster snapshot. Pure and deterministic,
// so the API, the agent and the what-if view all derive the same answer from the same snapshot.
import { parseCidr } from "../spec";
import { compileBgp } from "./bgp";
import { compileEgressGateway } from "./egress";
import { byText, canonicalJson, sectionHash, sha256Hex } from "./hash";
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
import type { CompileProblem, IdentityState, LocalEndpointState, NodeDesiredState } from "./types";

export class UnknownNodeError extends Error {
  constructor(readonly nodeName: string) {
    super(`node "${nodeName}" is not in the cluster snapshot`);
    this.name = "UnknownNodeError";
  }
}

export function compileNodeState(snapshot: ClusterSnapshot, nodeName: string): NodeDesiredState {
  const shared = sharedFor(snapshot);
  const node = shared.nodeByName.get(nodeName);
  if (!node) throw new UnknownNodeError(nodeName);

  const index = indexSnapshot(snapshot);
  const localEndpoints = [...(index.endpointsByNode.get(nodeName) ?? [])].sort((a, b) => byText(a.id, b.id));
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
  const bgpProblems: CompileProblem[] = [];
  const bgpInstances = compileBgp(snapshot, node, srv6.vrfs, bgpProblems);
  const body: Omit<NodeDesiredState, "revision" | "contentHash"> = {
    node: {
      name: node.name,
      labels: { ...node.labels },
      addresses: [...node.addresses].sort(byText),
      podCIDRs: [...node.podCIDRs].sort(byText),
    },
    peers: shared.peers.forNode(nodeName),
    endpoints,
    identities,
    ipcache,
    egressGateway: compileEgressGateway(snapshot, nodeName),
    bgp: { instances: bgpInstances },
    srv6: { locators: srv6.locators, vrfs: srv6.vrfs, policies: srv6.policies },
    problems: [...srv6.problems, ...bgpProblems],
  };
  // The revision is left out of the hash: a change elsewhere in the cluster must not look like a change here.
  return {
    revision: snapshot.revision,
    ...body,
    contentHash: contentHashOf(body, shared.peers, nodeName),
  };
}

// ---- Work shared by every node compiled from one snapshot -------------------------------------
// With a thousand nodes, every node's state lists the other 999 as peers: building, serializing
// and hashing that list per node was most of the compile time. The peer list is built and
// serialized once (and reused across snapshots while the nodes do not change); each node takes
// it minus itself, and its hash is kept with it (see contentHashOf).

type PeerNode = NodeDesiredState["peers"][number];

/** Peers are serialized in blocks, so a node's list (all but itself) is a join of block strings. */
const PEER_BLOCK = 64;

class PeerList {
  private readonly all: PeerNode[];
  private readonly position = new Map<string, number>();
  private readonly json: string[];
  private readonly blocks: string[] = [];
  /** Per node, the same array every time (and across snapshots with the same nodes). */
  private readonly perNode = new Map<string, PeerNode[]>();

  constructor(nodes: ClusterSnapshot["nodes"]) {
    // Other nodes that have PodCIDRs, sorted, with bare addresses (next hops for their PodCIDRs).
    this.all = nodes
      .filter((n) => n.podCIDRs.length > 0)
      .sort((a, b) => byText(a.name, b.name))
      .map((n) => ({
        name: n.name,
        addresses: [...new Set(n.addresses.map((a) => a.split("/")[0] ?? a))].sort(byText),
        podCIDRs: [...n.podCIDRs].sort(byText),
      }));
    // Node names are unique in a snapshot; should one repeat, fall back to the general path.
    for (const [i, p] of this.all.entries()) this.position.set(p.name, i);
    this.json = this.all.map((p) => canonicalJson(p));
    for (let i = 0; i < this.json.length; i += PEER_BLOCK)
      this.blocks.push(this.json.slice(i, i + PEER_BLOCK).join(","));
  }

  private unique(): boolean {
    return this.position.size === this.all.length;
  }

  forNode(nodeName: string): PeerNode[] {
    let peers = this.perNode.get(nodeName);
    if (!peers) {
      peers = this.all.filter((p) => p.name !== nodeName);
      this.perNode.set(nodeName, peers);
    }
    return peers;
  }

  /** canonicalJson(this.forNode(nodeName)). */
  jsonFor(nodeName: string): string {
    if (!this.unique()) return canonicalJson(this.forNode(nodeName));
    const at = this.position.get(nodeName);
    if (at === undefined) return `[${this.blocks.join(",")}]`;
    const own = Math.floor(at / PEER_BLOCK);
    const parts: string[] = [];
    for (let b = 0; b < this.blocks.length; b++) {
      if (b !== own) parts.push(this.blocks[b]!);
      else {
        const start = b * PEER_BLOCK;
        const rest = this.json.slice(start, start + PEER_BLOCK).filter((_, i) => start + i !== at);
        if (rest.length) parts.push(rest.join(","));
      }
    }
    return `[${parts.join(",")}]`;
  }
}

interface SharedCompile {
  nodeByName: Map<string, ClusterSnapshot["nodes"][number]>;
  peers: PeerList;
}

const sharedCache = new WeakMap<ClusterSnapshot, SharedCompile>();
// Successive snapshots usually have the same nodes: keep the last peer list while they do.
let lastPeers: { key: string; peers: PeerList } | undefined;

function sharedFor(snapshot: ClusterSnapshot): SharedCompile {
  let shared = sharedCache.get(snapshot);
  if (!shared) {
    const nodeByName = new Map<string, ClusterSnapshot["nodes"][number]>();
    for (const n of snapshot.nodes) if (!nodeByName.has(n.name)) nodeByName.set(n.name, n);
    const key = JSON.stringify(snapshot.nodes.map((n) => [n.name, n.addresses, n.podCIDRs]));
    if (lastPeers?.key !== key) lastPeers = { key, peers: new PeerList(snapshot.nodes) };
    shared = { nodeByName, peers: lastPeers.peers };
    sharedCache.set(snapshot, shared);
  }
  return shared;
}

// The content hash is a hash of per-section hashes: equal states hash equally and any change in a
// section changes it, and a node's peer list (999 entries at 1,000 nodes, the same array while
// the nodes do not change) is hashed once instead of on every revision for every node.
function contentHashOf(
  body: Omit<NodeDesiredState, "revision" | "contentHash">,
  peers: PeerList,
  nodeName: string,
): string {
  const record = body as unknown as Record<string, unknown>;
  let out = "";
  for (const key of Object.keys(record).sort()) {
    const v = record[key];
    if (v === undefined) continue;
    const h = key === "peers" ? sectionHash(v, () => peers.jsonFor(nodeName)) : sectionHash(v);
    out += `${key}:${h}\n`;
  }
  return sha256Hex(out);
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
