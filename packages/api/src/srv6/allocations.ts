// SRv6 locators and SIDs stored in PostgreSQL (Srv6LocatorAllocation, Srv6SidAllocation): planned
// by the compiler's pure planner, stored under one advisory lock so replicas never hand out one
// number twice (the unique indexes have the last word), released only by the foreign keys' cascade
// when a node, pool or VRF is deleted.
import type { Db } from "@meridian/db";
import type { Labels, SnapshotSrv6Allocations, Srv6LocatorPoolSpec, Srv6VrfSpec } from "@meridian/model";
import { planSrv6Allocations, type Srv6AllocationPlan } from "@meridian/model";
import type { Tx } from "../revisions/commit";

const SRV6_ALLOCATION_LOCK = 0x53525636; // "SRV6"

type Reader = Db | Tx;

/** The queries that read held allocations (usable inside a batch transaction)… */
export function srv6AllocationQueries(db: Reader) {
  return [
    db.srv6LocatorAllocation.findMany({
      select: { slot: true, node: { select: { name: true } }, pool: { select: { name: true } } },
    }),
    db.srv6SidAllocation.findMany({
      select: {
        function: true,
        node: { select: { name: true } },
        pool: { select: { name: true } },
        vrf: { select: { name: true } },
      },
    }),
  ] as const;
}

type Rows<I extends 0 | 1> = Awaited<ReturnType<typeof srv6AllocationQueries>[I]>;

/** …and their rows by node, pool and VRF name. */
export function srv6AllocationsFromRows(locators: Rows<0>, sids: Rows<1>): SnapshotSrv6Allocations {
  return {
    locators: locators.map((l) => ({ node: l.node.name, pool: l.pool.name, slot: l.slot })),
    sids: sids.map((s) => ({ node: s.node.name, vrf: s.vrf.name, pool: s.pool.name, function: s.function })),
  };
}

export async function readSrv6Allocations(db: Reader): Promise<SnapshotSrv6Allocations> {
  const [locators, sids] = srv6AllocationQueries(db);
  return srv6AllocationsFromRows(await locators, await sids);
}

async function plan(db: Reader) {
  const [nodes, pools, vrfs, held] = await Promise.all([
    db.node.findMany({
      where: { joinState: { not: "revoked" } },
      select: { id: true, name: true, labels: true },
    }),
    db.srv6LocatorPool.findMany({ select: { id: true, name: true, spec: true } }),
    db.srv6Vrf.findMany({ select: { id: true, name: true, spec: true } }),
    readSrv6Allocations(db),
  ]);
  const result = planSrv6Allocations({
    nodes: nodes.map((n) => ({ name: n.name, labels: n.labels as Labels })),
    pools: pools.map((p) => ({ id: p.id, name: p.name, spec: p.spec as Srv6LocatorPoolSpec })),
    vrfs: vrfs.map((v) => ({ id: v.id, name: v.name, spec: v.spec as Srv6VrfSpec })),
    held,
  });
  const ids = {
    node: new Map(nodes.map((n) => [n.name, n.id])),
    pool: new Map(pools.map((p) => [p.name, p.id])),
    vrf: new Map(vrfs.map((v) => [v.name, v.id])),
  };
  return { result, ids };
}

const isEmpty = (p: Srv6AllocationPlan) =>
  p.add.locators.length === 0 && p.add.sids.length === 0 && p.releaseSids.length === 0;

/**
 * Allocates what nodes, pools and VRFs lack; returns how many allocations it stored or released.
 * Almost always there is nothing to do, found without a lock.
 */
export async function ensureSrv6Allocations(db: Db): Promise<number> {
  if (isEmpty((await plan(db)).result)) return 0;
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SRV6_ALLOCATION_LOCK}::bigint)`;
      // Read again under the lock: another replica may have allocated meanwhile.
      const { result, ids } = await plan(tx);
      const id = (map: Map<string, string>, name: string) => map.get(name)!;
      for (const s of result.releaseSids)
        await tx.srv6SidAllocation.delete({
          where: { nodeId_vrfRowId: { nodeId: id(ids.node, s.node), vrfRowId: id(ids.vrf, s.vrf) } },
        });
      if (result.add.locators.length > 0)
        await tx.srv6LocatorAllocation.createMany({
          data: result.add.locators.map((l) => ({
            nodeId: id(ids.node, l.node),
            poolId: id(ids.pool, l.pool),
            slot: l.slot,
          })),
        });
      if (result.add.sids.length > 0)
        await tx.srv6SidAllocation.createMany({
          data: result.add.sids.map((s) => ({
            nodeId: id(ids.node, s.node),
            vrfRowId: id(ids.vrf, s.vrf),
            poolId: id(ids.pool, s.pool),
            function: s.function,
          })),
        });
      return result.add.locators.length + result.add.sids.length + result.releaseSids.length;
    },
    { maxWait: 15_000, timeout: 30_000 },
  );
}
