// Endpoint writes shared by the operator API and the agent's inventory reports.
import type { Db } from "@meridian/db";
import {
  type EndpointPort,
  type EndpointSpec,
  endpointLabels,
  type Labels,
  normalizeLabels,
  policyKey,
  policySelectsEndpoint,
} from "@meridian/model";
import { snapshotEndpoint, snapshotPolicy } from "../agent/snapshot";
import { fieldError } from "../errors";
import type { ChangeRecorder, Tx } from "../revisions/commit";
import { allocateIdentity, identityLabels } from "./identities";

export const endpointInclude = { node: { select: { name: true } } } as const;

export interface EndpointRow {
  id: string;
  nodeId: string;
  namespace: string;
  name: string;
  labels: unknown;
  ipv4: string | null;
  ipv6: string | null;
  ports: unknown;
  identityNumber: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string;
  node: { name: string };
}

export function endpointOutputOf(row: EndpointRow) {
  const { node, nodeId: _nodeId, ...rest } = row;
  return {
    ...rest,
    node: node.name,
    labels: (row.labels ?? {}) as Labels,
    ports: (row.ports ?? []) as EndpointPort[],
  };
}

/** Creates or replaces an endpoint by namespace/name; records an audit entry only when something changed. */
export async function upsertEndpoint(
  tx: Tx,
  rec: ChangeRecorder,
  ep: EndpointSpec,
  by: string,
  nodeIdHint?: string,
) {
  const node = nodeIdHint
    ? { id: nodeIdHint }
    : await tx.node.findUnique({ where: { name: ep.node }, select: { id: true } });
  if (!node) throw fieldError(["node"], `no node named ${ep.node}`);
  const identityNumber = await allocateIdentity(tx, identityLabels(ep.namespace, ep.labels));
  const before = await tx.endpoint.findUnique({
    where: { namespace_name: { namespace: ep.namespace, name: ep.name } },
    include: endpointInclude,
  });
  const data = {
    nodeId: node.id,
    labels: ep.labels,
    ipv4: ep.ipv4 ?? null,
    ipv6: ep.ipv6 ?? null,
    ports: ep.ports ?? [],
    identityNumber,
  };
  if (
    before &&
    before.nodeId === data.nodeId &&
    before.ipv4 === data.ipv4 &&
    before.ipv6 === data.ipv6 &&
    before.identityNumber === identityNumber &&
    JSON.stringify(before.labels) === JSON.stringify(data.labels) &&
    JSON.stringify(before.ports) === JSON.stringify(data.ports)
  ) {
    return before;
  }
  const after = before
    ? await tx.endpoint.update({
        where: { id: before.id },
        data: { ...data, version: { increment: 1 }, updatedBy: by },
        include: endpointInclude,
      })
    : await tx.endpoint.create({
        data: { ...data, namespace: ep.namespace, name: ep.name, updatedBy: by },
        include: endpointInclude,
      });
  rec.record({
    entityType: "Endpoint",
    entityId: after.id,
    entityName: `${after.namespace}/${after.name}`,
    action: before ? "update" : "create",
    before,
    after,
  });
  return after;
}

/**
 * Each endpoint with the policies that select it, by the compiler's own rule, reading only the
 * policies of the endpoints' namespaces (and the cluster-wide ones).
 */
export async function withSelectingPolicies<
  E extends {
    id: string;
    node: string;
    namespace: string;
    name: string;
    labels: Labels;
    identityNumber: number;
  },
>(db: Db, endpoints: E[]): Promise<(E & { selectedBy: { id: string; name: string }[] })[]> {
  const namespaces = [...new Set(endpoints.map((e) => e.namespace))];
  const stored = await db.networkPolicy.findMany({
    where: { OR: [{ namespace: "" }, { namespace: { in: namespaces } }] },
    select: { id: true, name: true, namespace: true, enabled: true, version: true, spec: true },
    orderBy: [{ namespace: "asc" }, { name: "asc" }],
  });
  const policies = stored.map(snapshotPolicy);
  return endpoints.map((e) => {
    const ep = snapshotEndpoint(e);
    const labels = normalizeLabels(endpointLabels(ep));
    return {
      ...e,
      selectedBy: policies
        .filter((p) => policySelectsEndpoint(p, ep, labels))
        .map((p) => ({ id: p.id, name: policyKey(p) })),
    };
  });
}
