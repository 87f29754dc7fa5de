// Which SRv6 locators and SIDs to hand out, given what is already held. Pure (no I/O): the API runs
// it under a lock and stores the result (../srv6/allocations.ts); tests run it on hand-built
// snapshots. An allocation, once made, is never moved by this plan — only deleting the node, the
// pool or the VRF releases it — so adding or removing one node never renumbers another's SIDs.
import { parseCidr, type Srv6LocatorPoolSpec, type Srv6VrfSpec, selectorMatches, sidInPool } from "../spec";
import { byText } from "./hash";
import type { SnapshotNode, SnapshotObject, SnapshotSrv6Allocations } from "./snapshot";

/** Slot and function numbers are stored as PostgreSQL integers. */
const MAX_NUMBER = 2 ** 31 - 1;

/** How many node locators the pool's prefix holds: 2^(locatorLength − prefix length). */
export function locatorCapacity(spec: Srv6LocatorPoolSpec): number {
  const prefix = parseCidr(spec.prefix);
  if (!prefix) return 0;
  const bits = spec.locatorLength - prefix.prefixLength;
  return bits <= 0 ? 0 : bits >= 31 ? MAX_NUMBER + 1 : 2 ** bits;
}

/**
 * How many SIDs one locator holds: functions 1..2^functionLength − 1. Function 0 is left out: that
 * SID is the locator's own address, which routers use for the locator route itself.
 */
export function functionCapacity(spec: Srv6LocatorPoolSpec): number {
  const bits = spec.structure.functionLength;
  return bits >= 31 ? MAX_NUMBER : 2 ** bits - 1;
}

export interface Srv6AllocationInput {
  nodes: Pick<SnapshotNode, "name" | "labels">[];
  pools: SnapshotObject<Srv6LocatorPoolSpec>[];
  vrfs: SnapshotObject<Srv6VrfSpec>[];
  held: SnapshotSrv6Allocations;
}

export interface Srv6AllocationPlan {
  /** New allocations to store. */
  add: SnapshotSrv6Allocations;
  /** SIDs of VRFs moved to another pool since: released, and allocated anew in `add`. */
  releaseSids: { node: string; vrf: string }[];
}

function lowestFree(used: Set<number>, from: number, capacity: number): number | undefined {
  for (let n = from; n < capacity && n <= MAX_NUMBER; n++) if (!used.has(n)) return n;
  return undefined;
}

/**
 * Every node a pool selects gets the lowest free slot; every (node, VRF) whose node has a locator
 * in the VRF's pool gets a function — the VRF ID when it fits and is free on that locator (so SIDs
 * read alike across nodes), else the lowest free one. A full pool or locator gets nothing here; the
 * compiler reports it on the node.
 */
export function planSrv6Allocations(input: Srv6AllocationInput): Srv6AllocationPlan {
  const add: SnapshotSrv6Allocations = { locators: [], sids: [] };
  const locatorOf = new Map(input.held.locators.map((l) => [`${l.node}\u0000${l.pool}`, l.slot]));
  const nodes = [...input.nodes].sort((a, b) => byText(a.name, b.name));
  for (const pool of [...input.pools].sort((a, b) => byText(a.name, b.name))) {
    const used = new Set(input.held.locators.filter((l) => l.pool === pool.name).map((l) => l.slot));
    const capacity = locatorCapacity(pool.spec);
    for (const node of nodes) {
      if (locatorOf.has(`${node.name}\u0000${pool.name}`)) continue;
      if (!selectorMatches(pool.spec.nodeSelector ?? {}, node.labels)) continue;
      const slot = lowestFree(used, 0, capacity);
      if (slot === undefined) break;
      used.add(slot);
      locatorOf.set(`${node.name}\u0000${pool.name}`, slot);
      add.locators.push({ node: node.name, pool: pool.name, slot });
    }
  }

  const releaseSids: { node: string; vrf: string }[] = [];
  const sidOf = new Map(input.held.sids.map((s) => [`${s.node}\u0000${s.vrf}`, s]));
  // Functions in use per (node, pool), counting only SIDs that stay.
  const usedFunctions = new Map<string, Set<number>>();
  const usedOn = (node: string, pool: string) => {
    const key = `${node}\u0000${pool}`;
    const set = usedFunctions.get(key) ?? new Set<number>();
    usedFunctions.set(key, set);
    return set;
  };
  const vrfPool = new Map(input.vrfs.map((v) => [v.name, v.spec.locatorPool]));
  const pools = new Map(input.pools.map((p) => [p.name, p]));
  // A static SID that lies in the node's locator fixes that VRF's function on the node.
  const staticFunction = new Map<string, number>();
  for (const vrf of input.vrfs) {
    const pool = pools.get(vrf.spec.locatorPool);
    for (const fixed of vrf.spec.staticSids ?? []) {
      const slot = locatorOf.get(`${fixed.node}\u0000${vrf.spec.locatorPool}`);
      const at = pool ? sidInPool(pool.spec, fixed.sid) : undefined;
      if (slot === undefined || !at || "problem" in at || at.slot !== BigInt(slot)) continue;
      if (at.function <= BigInt(functionCapacity(pool!.spec)))
        staticFunction.set(`${fixed.node}\u0000${vrf.name}`, Number(at.function));
    }
  }
  for (const s of input.held.sids) {
    const pool = vrfPool.get(s.vrf);
    const fixed = staticFunction.get(`${s.node}\u0000${s.vrf}`);
    if ((pool !== undefined && pool !== s.pool) || (fixed !== undefined && fixed !== s.function)) {
      releaseSids.push({ node: s.node, vrf: s.vrf });
      sidOf.delete(`${s.node}\u0000${s.vrf}`);
    } else usedOn(s.node, s.pool).add(s.function);
  }
  for (const vrf of [...input.vrfs].sort((a, b) => a.spec.vrfID - b.spec.vrfID || byText(a.name, b.name))) {
    const pool = pools.get(vrf.spec.locatorPool);
    if (!pool) continue;
    const capacity = functionCapacity(pool.spec) + 1;
    for (const node of nodes) {
      if (sidOf.has(`${node.name}\u0000${vrf.name}`)) continue;
      if (!locatorOf.has(`${node.name}\u0000${pool.name}`)) continue;
      if (!selectorMatches(pool.spec.nodeSelector ?? {}, node.labels)) continue;
      const used = usedOn(node.name, pool.name);
      const fixed = staticFunction.get(`${node.name}\u0000${vrf.name}`);
      // A static SID whose function another VRF holds waits (the compiler says so); one outside
      // the node's locator gets no allocated SID in its place.
      if (fixed !== undefined && used.has(fixed)) continue;
      if (fixed === undefined && vrf.spec.staticSids?.some((x) => x.node === node.name)) continue;
      const preferred = vrf.spec.vrfID < capacity && !used.has(vrf.spec.vrfID) ? vrf.spec.vrfID : undefined;
      const fn = fixed ?? preferred ?? lowestFree(used, 1, capacity);
      if (fn === undefined) continue;
      used.add(fn);
      add.sids.push({ node: node.name, vrf: vrf.name, pool: pool.name, function: fn });
    }
  }
  return { add, releaseSids };
}

/** The held allocations after a plan is stored (what the database holds next). */
export function applySrv6AllocationPlan(
  held: SnapshotSrv6Allocations,
  plan: Srv6AllocationPlan,
): SnapshotSrv6Allocations {
  const released = new Set(plan.releaseSids.map((s) => `${s.node}\u0000${s.vrf}`));
  return {
    locators: [...held.locators, ...plan.add.locators],
    sids: [...held.sids.filter((s) => !released.has(`${s.node}\u0000${s.vrf}`)), ...plan.add.sids],
  };
}
