// Endpoint writes shared by the operator API and the agent's inventory reports.
import { fieldError } from "../errors";
import type { ChangeRecorder, Tx } from "../revisions/commit";
import type { EndpointSpec, Labels } from "../spec";
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
  identityNumber: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string;
  node: { name: string };
}

export function endpointOutputOf(row: EndpointRow) {
  const { node, nodeId: _nodeId, ...rest } = row;
  return { ...rest, node: node.name, labels: (row.labels ?? {}) as Labels };
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
    identityNumber,
  };
  if (
    before &&
    before.nodeId === data.nodeId &&
    before.ipv4 === data.ipv4 &&
    before.ipv6 === data.ipv6 &&
    before.identityNumber === identityNumber &&
    JSON.stringify(before.labels) === JSON.stringify(data.labels)
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
