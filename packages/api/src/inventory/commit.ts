// The write path for inventory: what agents report about their nodes (endpoints now; Kubernetes
// objects later). Not intent, so no advisory revision lock, no audit rows and no revision: a pod
// start must not be a cluster-wide revision. One transaction writes, then takes the next
// inventory generation and NOTIFYs at commit; subscribers then recompile and send a state only to
// the nodes whose state it changed.
import type { Db } from "@meridian/db";
import { INVENTORY_CHANNEL } from "../agent/change-feed";
import type { Tx } from "../revisions/commit";
import { announceLocalInventory } from "../revisions/local-feeds";

export async function commitInventory<T>(
  db: Db,
  fn: (tx: Tx) => Promise<T>,
): Promise<{ value: T; generation: number }> {
  const result = await db.$transaction(
    async (tx) => {
      const value = await fn(tx);
      // The generation last, so its row lock is held only from here to the commit: writers run
      // side by side and take their numbers in commit order (a later number always sees the
      // earlier writes). Taken first, every report waited for all the others, pool connection
      // in hand, and 50 pod starts a second starved the API of connections.
      const rows = await tx.$queryRaw<{ value: number }[]>`
        UPDATE "InventoryGeneration" SET "value" = "value" + 1 WHERE "id" = 1 RETURNING "value"`;
      const generation = rows[0]?.value;
      if (generation === undefined)
        throw new Error("the InventoryGeneration row is missing (migrations not applied?)");
      await tx.$executeRaw`SELECT pg_notify(${INVENTORY_CHANNEL}, ${String(generation)})`;
      return { value, generation };
    },
    { maxWait: 15_000, timeout: 30_000 },
  );
  announceLocalInventory(db, result.generation);
  return result;
}
