// Which nodes an inventory change can touch, so that a pod start recompiles the few states it
// changes rather than every node's (with 50 pod starts a second on 1,000 nodes, compiling every
// node for each one kept the API's event loop busy until its connections timed out).
//
// A node's compiled state depends on endpoints through: its own endpoints; the addresses of pods
// whose identity its rules select (those identities are in its state); pods inside its rules'
// CIDRs; and, for egress gateways and SRv6 VRFs, pods selected by cluster-wide objects. So a change
// to endpoint E matters to node N when E is (or was) on N, E's identity (old or new) is in N's
// state, or E's address lies in one of N's CIDR rule prefixes. Anything this cannot see through —
// an identity that gains its first pod or loses its last, or egress/SRv6 objects in the model —
// counts as touching every node.
import type { ClusterSnapshot, NodeDesiredState, SnapshotEndpoint } from "@meridian/model";
import { cidrContains } from "@meridian/model";

/** What a node's last compiled state depended on among the inventory. */
export interface InventoryDeps {
  identities: Set<number>;
  cidrPrefixes: string[];
}

export function inventoryDeps(state: NodeDesiredState): InventoryDeps {
  return {
    identities: new Set(state.identities.map((i) => i.id)),
    cidrPrefixes: state.ipcache.filter((e) => e.source === "cidr").map((e) => e.prefix),
  };
}

interface EndpointChange {
  /** Every node an endpoint left or joined, everything touched when null. */
  nodes: Set<string>;
  identities: Set<number>;
  addresses: string[];
  everything: boolean;
}

const diffs = new WeakMap<ClusterSnapshot, WeakMap<ClusterSnapshot, EndpointChange>>();

function endpointKey(e: SnapshotEndpoint): string {
  return `${e.node}|${e.identity}|${e.ipv4 ?? ""}|${e.ipv6 ?? ""}|${JSON.stringify(e.labels)}`;
}

/** What changed among the endpoints from `prev` to `next`, computed once per pair of snapshots. */
function endpointChange(prev: ClusterSnapshot, next: ClusterSnapshot): EndpointChange {
  let byPrev = diffs.get(next);
  if (!byPrev) {
    byPrev = new WeakMap();
    diffs.set(next, byPrev);
  }
  const known = byPrev.get(prev);
  if (known) return known;
  const change: EndpointChange = {
    nodes: new Set(),
    identities: new Set(),
    addresses: [],
    everything: false,
  };
  const before = new Map(prev.endpoints.map((e) => [e.id, e]));
  const after = new Map(next.endpoints.map((e) => [e.id, e]));
  const touch = (e: SnapshotEndpoint) => {
    change.nodes.add(e.node);
    change.identities.add(e.identity);
    if (e.ipv4) change.addresses.push(e.ipv4);
    if (e.ipv6) change.addresses.push(e.ipv6);
  };
  for (const [id, e] of after) {
    const old = before.get(id);
    if (!old) touch(e);
    else if (endpointKey(old) !== endpointKey(e)) {
      touch(old);
      touch(e);
    }
  }
  for (const [id, e] of before) if (!after.has(id)) touch(e);
  // An identity that gains its first pod or loses its last changes which rules select anything.
  const count = (s: ClusterSnapshot) => {
    const m = new Map<number, number>();
    for (const e of s.endpoints) m.set(e.identity, (m.get(e.identity) ?? 0) + 1);
    return m;
  };
  const was = count(prev);
  const is = count(next);
  for (const id of change.identities) if (!was.has(id) || !is.has(id)) change.everything = true;
  // Anything but endpoints changed too (the caller compares revisions; this is the safety net).
  if (next.nodes.length !== prev.nodes.length || next.identities.length !== prev.identities.length)
    change.everything = true;
  // Egress gateways and SRv6 VRFs select pods cluster-wide: their states are not traced here.
  if (next.egressPolicies.length > 0 || next.srv6Vrfs.length > 0) change.everything = true;
  byPrev.set(prev, change);
  return change;
}

/**
 * Whether going from `prev` to `next` (the same revision: inventory only) can change the state of
 * `node`, whose last compiled state depended on `deps`. False means its state is provably the same.
 */
export function inventoryChangeAffects(
  prev: ClusterSnapshot,
  next: ClusterSnapshot,
  node: string,
  deps: InventoryDeps,
): boolean {
  const change = endpointChange(prev, next);
  if (change.everything || change.nodes.has(node)) return true;
  for (const id of change.identities) if (deps.identities.has(id)) return true;
  for (const address of change.addresses)
    if (deps.cidrPrefixes.some((p) => cidrContains(p, address))) return true;
  return false;
}
