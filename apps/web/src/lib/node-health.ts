// One word per node for lists, tiles and the NOC wall: in sync, lagging (alive but behind the
// current revision), down (joined but not heard from), pending (never joined), revoked.
export type NodeHealth = "in-sync" | "lagging" | "down" | "pending" | "revoked";

export function nodeHealth(n: { joinState: string; inSync: boolean; stale: boolean }): NodeHealth {
  if (n.joinState === "revoked") return "revoked";
  if (n.joinState === "pending") return "pending";
  if (n.stale) return "down";
  return n.inSync ? "in-sync" : "lagging";
}

export const HEALTH_LABEL: Record<NodeHealth, string> = {
  "in-sync": "In sync",
  lagging: "Lagging",
  down: "Down",
  pending: "Pending join",
  revoked: "Revoked",
};
