// SRv6: each node's locator and each VRF's SID as the control plane allocated and stored them
// (snapshot.srv6Allocations, planned in ./srv6Allocations.ts), VRF membership of local pods.
import { formatIp, parseCidr, parseIp, selectorMatches, sidInPool } from "../spec";
import { byText } from "./hash";
import { endpointLabels } from "./selection";
import type {
  ClusterSnapshot,
  SnapshotSrv6Allocations,
  SnapshotSrv6LocatorPool,
  SnapshotSrv6Vrf,
} from "./snapshot";
import { functionCapacity, locatorCapacity } from "./srv6Allocations";
import type { CompileProblem, Srv6LocatorState, Srv6PolicyState, Srv6VrfState } from "./types";

interface NodeLocator {
  state: Srv6LocatorState;
  network: bigint;
  slot: number;
  pool: SnapshotSrv6LocatorPool;
}

interface AllocationIndex {
  /** pool → node → slot */
  slots: Map<string, Map<string, number>>;
  /** node, VRF → the SID allocation */
  sids: Map<string, SnapshotSrv6Allocations["sids"][number]>;
  /** node, pool → SIDs held */
  sidsHeld: Map<string, number>;
}

// Built once per snapshot and shared by every node compiled from it (a thousand nodes would
// otherwise each scan every allocation).
const indexes = new WeakMap<SnapshotSrv6Allocations, AllocationIndex>();

function allocationIndex(a: SnapshotSrv6Allocations): AllocationIndex {
  let index = indexes.get(a);
  if (index) return index;
  index = { slots: new Map(), sids: new Map(), sidsHeld: new Map() };
  for (const l of a.locators) {
    const byNode = index.slots.get(l.pool) ?? new Map<string, number>();
    byNode.set(l.node, l.slot);
    index.slots.set(l.pool, byNode);
  }
  for (const s of a.sids) {
    index.sids.set(`${s.node}\u0000${s.vrf}`, s);
    const key = `${s.node}\u0000${s.pool}`;
    index.sidsHeld.set(key, (index.sidsHeld.get(key) ?? 0) + 1);
  }
  indexes.set(a, index);
  return index;
}

function prefixBits(pool: SnapshotSrv6LocatorPool): string {
  return `/${pool.spec.locatorLength} locators under ${pool.spec.prefix}`;
}

/** The node's locator in the pool: its stored slot, or why it has none. */
export function nodeLocator(
  snapshot: ClusterSnapshot,
  pool: SnapshotSrv6LocatorPool,
  nodeName: string,
): NodeLocator | { problem: string } | undefined {
  const node = snapshot.nodes.find((n) => n.name === nodeName);
  if (!node || !selectorMatches(pool.spec.nodeSelector ?? {}, node.labels)) return undefined;
  const capacity = locatorCapacity(pool.spec);
  const held = allocationIndex(snapshot.srv6Allocations).slots.get(pool.name);
  const slot = held?.get(nodeName);
  if (slot === undefined) {
    return {
      problem:
        (held?.size ?? 0) >= capacity
          ? `pool ${pool.name} is full: spec.locatorLength gives ${capacity} ${prefixBits(pool)} and all are held by other nodes; node ${nodeName} has no locator`
          : `node ${nodeName} has no locator in pool ${pool.name} yet (not allocated)`,
    };
  }
  if (slot >= capacity) {
    return {
      problem: `node ${nodeName}'s locator number ${slot} no longer fits pool ${pool.name}: spec.locatorLength gives ${capacity} ${prefixBits(pool)}`,
    };
  }
  const prefix = parseCidr(pool.spec.prefix)!;
  const network = prefix.network | (BigInt(slot) << BigInt(128 - pool.spec.locatorLength));
  return {
    network,
    slot,
    pool,
    state: {
      pool: pool.name,
      locator: `${formatIp(6, network)}/${pool.spec.locatorLength}`,
      structure: { ...pool.spec.structure },
    },
  };
}

/** The VRF's SID under the node's locator: its stored function, or why it has none. */
function vrfSid(
  snapshot: ClusterSnapshot,
  locator: NodeLocator,
  nodeName: string,
  vrf: SnapshotSrv6Vrf,
): { sid: string } | { problem: string } {
  const vrfName = vrf.name;
  const { pool } = locator;
  const fixedAt = (vrf.spec.staticSids ?? []).findIndex((x) => x.node === nodeName);
  if (fixedAt >= 0) {
    const fixed = vrf.spec.staticSids![fixedAt]!;
    const at = sidInPool(pool.spec, fixed.sid);
    const field = `staticSids.${fixedAt}.sid`;
    if ("problem" in at) return { problem: `VRF ${vrfName} ${field}: ${at.problem}` };
    if (at.slot !== BigInt(locator.slot))
      return {
        problem: `VRF ${vrfName} ${field}: static SID ${fixed.sid} is outside node ${nodeName}'s locator ${locator.state.locator}`,
      };
    const held = allocationIndex(snapshot.srv6Allocations).sids.get(`${nodeName}\u0000${vrfName}`);
    if (held?.pool !== pool.name || BigInt(held.function) !== at.function) {
      const other = snapshot.srv6Allocations.sids.find(
        (x) => x.node === nodeName && x.pool === pool.name && BigInt(x.function) === at.function,
      );
      return {
        problem: other
          ? `VRF ${vrfName} ${field}: static SID ${fixed.sid} is already the SID of VRF ${other.vrf} on node ${nodeName}`
          : `VRF ${vrfName} has no SID on node ${nodeName} yet (not allocated)`,
      };
    }
    return { sid: formatIp(6, parseIp(fixed.sid)!.value) };
  }
  const capacity = functionCapacity(pool.spec);
  const index = allocationIndex(snapshot.srv6Allocations);
  const found = index.sids.get(`${nodeName}\u0000${vrfName}`);
  const mine = found?.pool === pool.name ? found : undefined;
  const { functionLength } = pool.spec.structure;
  if (!mine) {
    return {
      problem:
        (index.sidsHeld.get(`${nodeName}\u0000${pool.name}`) ?? 0) >= capacity
          ? `locator ${locator.state.locator} of node ${nodeName} is full: pool ${pool.name}'s structure.functionLength ${functionLength} gives ${capacity} SIDs and all are held by other VRFs; VRF ${vrfName} has no SID`
          : `VRF ${vrfName} has no SID on node ${nodeName} yet (not allocated)`,
    };
  }
  if (mine.function > capacity) {
    return {
      problem: `VRF ${vrfName}'s SID function ${mine.function} no longer fits pool ${pool.name}'s structure.functionLength ${functionLength}`,
    };
  }
  const s = pool.spec.structure;
  const shift = BigInt(128 - s.locatorBlockLength - s.locatorNodeLength - functionLength);
  return { sid: formatIp(6, locator.network | (BigInt(mine.function) << shift)) };
}

export interface Srv6Compiled {
  locators: Srv6LocatorState[];
  vrfs: Srv6VrfState[];
  policies: Srv6PolicyState[];
  problems: CompileProblem[];
}

/** VRFs the node serves: it has a locator from the VRF's pool and at least one local member pod. */
export function compileSrv6(snapshot: ClusterSnapshot, nodeName: string): Srv6Compiled {
  const problems: CompileProblem[] = [];
  const locators = new Map<string, NodeLocator>();
  for (const pool of [...snapshot.srv6LocatorPools].sort((a, b) => byText(a.name, b.name))) {
    const result = nodeLocator(snapshot, pool, nodeName);
    if (result && "problem" in result)
      problems.push({ area: "srv6", object: pool.name, message: result.problem });
    else if (result) locators.set(pool.name, result);
  }
  const localEndpoints = snapshot.endpoints.filter((ep) => ep.node === nodeName);
  const vrfs: Srv6VrfState[] = [];
  for (const vrf of [...snapshot.srv6Vrfs].sort(
    (a, b) => a.spec.vrfID - b.spec.vrfID || byText(a.name, b.name),
  )) {
    const locator = locators.get(vrf.spec.locatorPool);
    const members = localEndpoints
      .filter((ep) => selectorMatches(vrf.spec.memberSelector, endpointLabels(ep)))
      .map((ep) => ep.id)
      .sort(byText);
    if (!locator || members.length === 0) continue;
    const allocated = vrfSid(snapshot, locator, nodeName, vrf);
    if ("problem" in allocated) {
      problems.push({ area: "srv6", object: vrf.name, message: allocated.problem });
      continue;
    }
    const { sid } = allocated;
    vrfs.push({
      name: vrf.name,
      vrfID: vrf.spec.vrfID,
      behavior: vrf.spec.behavior,
      encapMode: vrf.spec.encapMode,
      sid,
      ...(vrf.spec.routeDistinguisher ? { routeDistinguisher: vrf.spec.routeDistinguisher } : {}),
      importRouteTargets: [...vrf.spec.importRouteTargets].sort(byText),
      exportRouteTargets: [...vrf.spec.exportRouteTargets].sort(byText),
      memberEndpoints: members,
    });
  }
  const served = new Map(vrfs.map((v) => [v.name, v]));
  const policies = snapshot.srv6Policies
    .filter((p) => served.has(p.spec.vrf))
    .map((p) => ({
      name: p.name,
      vrf: p.spec.vrf,
      vrfID: served.get(p.spec.vrf)!.vrfID,
      destination: p.spec.destination,
      segments: [...p.spec.segments],
    }))
    .sort((a, b) => byText(a.name, b.name));
  return { locators: [...locators.values()].map((l) => l.state), vrfs, policies, problems };
}
