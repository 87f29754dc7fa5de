// The cross-object checks of a BGP peer, split into what they read (loadPeerWorld, three
// queries) and the check itself (peerProblem, no I/O), so that an import of many peers reads
// once and checks each against what the import has done so far.

import {
  type BgpInstanceSpec,
  type BgpPeerSpec,
  type LabelSelector,
  type Labels,
  peerAddressConflict,
  peerAddressConflictMessage,
  selectorMatches,
} from "@meridian/model";
import type { FieldProblem } from "../errors";
import type { Tx } from "../revisions/commit";

export interface PeerRef {
  id: string | null;
  name: string;
  instance: string;
  address: string;
}

export interface PeerWorld {
  /** Every instance's node selector, by name. */
  instances: Map<string, LabelSelector>;
  /** Enabled peers only: a disabled one holds no session. */
  peers: PeerRef[];
  nodes: { name: string; labels: Labels }[];
}

export async function loadPeerWorld(tx: Tx): Promise<PeerWorld> {
  const [instances, peers, nodes] = [
    await tx.bgpInstance.findMany({ select: { name: true, spec: true } }),
    await tx.bgpPeer.findMany({
      where: { enabled: true },
      select: { id: true, name: true, instanceName: true, spec: true },
    }),
    await tx.node.findMany({ select: { name: true, labels: true }, orderBy: { name: "asc" } }),
  ];
  return {
    instances: new Map(instances.map((i) => [i.name, (i.spec as BgpInstanceSpec).nodeSelector])),
    peers: peers.map((p) => ({
      id: p.id,
      name: p.name,
      instance: p.instanceName,
      address: (p.spec as { address: string }).address,
    })),
    nodes: nodes.map((n) => ({ name: n.name, labels: (n.labels ?? {}) as Labels })),
  };
}

/**
 * What is wrong with `spec` for a peer named `name` among `others`: a missing instance, or an
 * address that another peer of the same instance, or of an instance selecting a common node,
 * already has. A node's instances share one listener that tells sessions apart by peer address.
 */
export function peerProblem(
  spec: Pick<BgpPeerSpec, "instance" | "address">,
  name: string,
  others: PeerRef[],
  world: Pick<PeerWorld, "instances" | "nodes">,
): FieldProblem | null {
  if (!world.instances.has(spec.instance))
    return { path: ["spec", "instance"], message: `no BGP instance named ${spec.instance}` };
  let sharedNode: string | undefined;
  const sharesNode = (a: string, b: string) => {
    const sa = world.instances.get(a);
    const sb = world.instances.get(b);
    if (!sa || !sb) return false;
    sharedNode = world.nodes.find(
      (n) => selectorMatches(sa, n.labels) && selectorMatches(sb, n.labels),
    )?.name;
    return sharedNode !== undefined;
  };
  const other = peerAddressConflict(
    { name, instance: spec.instance, address: spec.address },
    others,
    sharesNode,
  );
  if (!other) return null;
  return {
    path: ["spec", "address"],
    message: peerAddressConflictMessage(
      spec.address,
      other,
      other.instance === spec.instance ? undefined : sharedNode,
    ),
  };
}
