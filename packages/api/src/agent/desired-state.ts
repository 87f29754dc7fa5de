// Desired state per node, from one shared snapshot per revision: with a thousand agents
// subscribed, a change loads the model once per API process, then compiles per node.
import type { Db } from "@meridian/db";
import type { ClusterSnapshot } from "@meridian/model";
import { compileNodeState } from "@meridian/model";
import type { ChangeFeed } from "./change-feed";
import { loadSnapshot } from "./snapshot";

interface Cache {
  current: ClusterSnapshot | null;
  loading: Promise<ClusterSnapshot> | null;
}
const caches = new WeakMap<Db, Cache>();

/**
 * The newest snapshot at least as new as every revision and inventory generation this process
 * has heard of.
 */
export async function latestSnapshot(
  db: Db,
  feed?: ChangeFeed,
  // What "new enough" means is fixed when the caller asks: a load that starts after that has it.
  // Read afresh on every retry, a stream of pod starts (one generation each 20 ms) would have every
  // subscriber chase a snapshot that is never new enough.
  want?: { revision: number; inventory: number },
): Promise<ClusterSnapshot> {
  let cache = caches.get(db);
  if (!cache) {
    cache = { current: null, loading: null };
    caches.set(db, cache);
  }
  const wanted = want?.revision ?? feed?.latest ?? Number.POSITIVE_INFINITY;
  const wantedInventory = want?.inventory ?? feed?.latestInventory ?? 0;
  const fresh = (s: ClusterSnapshot) => s.revision >= wanted && (s.inventory ?? 0) >= wantedInventory;
  if (cache.current && fresh(cache.current)) return cache.current;
  if (!cache.loading) {
    const c = cache;
    c.loading = loadSnapshot(db).finally(() => {
      c.loading = null;
    });
    c.loading.then(
      (s) => {
        if (
          !c.current ||
          s.revision > c.current.revision ||
          (s.revision === c.current.revision && (s.inventory ?? 0) >= (c.current.inventory ?? 0))
        )
          c.current = s;
      },
      () => {},
    );
  }
  const snap = (await cache.loading) as ClusterSnapshot;
  // A load that started before the revision we want finished too early: load again.
  if (Number.isFinite(wanted) && !fresh(snap))
    return latestSnapshot(db, feed, { revision: wanted, inventory: wantedInventory });
  return snap;
}

export function compileFor(snapshot: ClusterSnapshot, nodeName: string) {
  return compileNodeState(snapshot, nodeName);
}
