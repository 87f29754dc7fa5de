// What the console's status views show: per node, agent liveness, applied vs. current
// revision, and the last report of each component.
import type { Db } from "@meridian/db";

// An agent that has not been heard from for three heartbeat periods is shown as stale.
export const STALE_AFTER_MS = 90_000;

/** Whether a node's agent counts as stale at `now` (ms): never heard from, or silent too long. */
export function isStale(lastHeartbeatAt: Date | null, now: number): boolean {
  return !lastHeartbeatAt || now - lastHeartbeatAt.getTime() > STALE_AFTER_MS;
}

export async function statusOverview(db: Db) {
  const [nodes, latest] = await Promise.all([
    db.node.findMany({
      include: { components: { orderBy: { component: "asc" } } },
      orderBy: { name: "asc" },
    }),
    db.revision.findFirst({ orderBy: { number: "desc" }, select: { number: true } }),
  ]);
  const now = Date.now();
  const currentRevision = latest?.number ?? 0;
  return {
    currentRevision,
    at: new Date(now),
    nodes: nodes.map((n) => ({
      name: n.name,
      joinState: n.joinState,
      agentVersion: n.agentVersion,
      appliedRevision: n.appliedRevision,
      inSync: n.appliedRevision !== null && n.appliedRevision >= currentRevision,
      lastHeartbeatAt: n.lastHeartbeatAt,
      stale: isStale(n.lastHeartbeatAt, now),
      components: n.components.map((c) => ({
        component: c.component,
        detail: (c.detail ?? {}) as Record<string, unknown>,
        state: c.state,
        message: c.message,
        revision: c.revision,
        updatedAt: c.updatedAt,
      })),
    })),
  };
}
