// What a saved policy does now: the pods it selects (the compiler's own selection rule) and, per
// node, whether the node has applied the revision that last changed the policy — read from the
// applied revision each agent reports with its heartbeat. "Applied" means the agent acknowledged
// a desired state at or after that revision, i.e. the policy is in its datapath.
import type { Db } from "@meridian/db";
import { endpointLabels, normalizeLabels, policyKey, policySelectsEndpoint } from "@meridian/model";
import { snapshotEndpoint, snapshotPolicy } from "../agent/snapshot";
import { isStale } from "../status/service";

/** Selected pods listed by name; beyond this only counted. */
export const ROLLOUT_PODS_SHOWN = 200;

export interface PolicyRollout {
  policy: string;
  enabled: boolean;
  /** The revision that last created or changed the policy; null when no audit entry names it. */
  revision: number | null;
  selected: { total: number; pods: { namespace: string; name: string; node: string }[] };
  nodes: {
    name: string;
    appliedRevision: number | null;
    lastHeartbeatAt: Date | null;
    /** No heartbeat for 90 s: what it applied is not known any more. */
    stale: boolean;
    applied: boolean;
  }[];
  /** Every joined node has applied it (false when no node has joined). */
  everyNode: boolean;
}

export async function policyRollout(db: Db, id: string, now = Date.now()): Promise<PolicyRollout | null> {
  const row = await db.networkPolicy.findUnique({ where: { id } });
  if (!row) return null;
  const policy = snapshotPolicy(row);
  const [last, endpoints, nodes] = await Promise.all([
    db.auditEntry.findFirst({
      where: { entityType: "NetworkPolicy", entityId: id },
      orderBy: { revisionNumber: "desc" },
      select: { revisionNumber: true },
    }),
    db.endpoint.findMany({
      // A namespaced policy selects only pods of its namespace.
      where: policy.namespace === null ? {} : { namespace: policy.namespace },
      select: {
        id: true,
        namespace: true,
        name: true,
        labels: true,
        identityNumber: true,
        node: { select: { name: true } },
      },
      orderBy: [{ namespace: "asc" }, { name: "asc" }],
    }),
    db.node.findMany({
      where: { joinState: "joined" },
      select: { name: true, appliedRevision: true, lastHeartbeatAt: true },
      orderBy: { name: "asc" },
    }),
  ]);
  const selected = endpoints.filter((e) => {
    const ep = snapshotEndpoint({ ...e, node: e.node.name });
    return policySelectsEndpoint(policy, ep, normalizeLabels(endpointLabels(ep)));
  });
  const revision = last?.revisionNumber ?? null;
  const perNode = nodes.map((n) => ({
    name: n.name,
    appliedRevision: n.appliedRevision,
    lastHeartbeatAt: n.lastHeartbeatAt,
    stale: isStale(n.lastHeartbeatAt, now),
    applied: revision !== null && n.appliedRevision !== null && n.appliedRevision >= revision,
  }));
  return {
    policy: policyKey(policy),
    enabled: policy.enabled && policy.spec.enabled !== false,
    revision,
    selected: {
      total: selected.length,
      pods: selected
        .slice(0, ROLLOUT_PODS_SHOWN)
        .map((e) => ({ namespace: e.namespace, name: e.name, node: e.node.name })),
    },
    nodes: perNode,
    everyNode: perNode.length > 0 && perNode.every((n) => n.applied),
  };
}
