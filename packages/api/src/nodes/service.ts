// Node inventory rules that span nodes: no two nodes may share PodCIDR space.
import { fieldError } from "../errors";
import type { Tx } from "../revisions/commit";
import { cidrOverlaps, type Labels, parseCidr } from "../spec";

export function splitPodCidrs(podCIDRs: string[]): { podCIDRv4: string[]; podCIDRv6: string[] } {
  return {
    podCIDRv4: podCIDRs.filter((c) => parseCidr(c)?.family === 4),
    podCIDRv6: podCIDRs.filter((c) => parseCidr(c)?.family === 6),
  };
}

export async function assertNoPodCidrOverlap(tx: Tx, nodeName: string, podCIDRs: string[]): Promise<void> {
  const others = await tx.node.findMany({
    where: { name: { not: nodeName } },
    select: { name: true, podCIDRv4: true, podCIDRv6: true },
  });
  for (const [i, cidr] of podCIDRs.entries()) {
    for (const o of others) {
      const clash = [...o.podCIDRv4, ...o.podCIDRv6].find((c) => cidrOverlaps(c, cidr));
      if (clash) throw fieldError(["podCIDRs", i], `PodCIDR ${cidr} overlaps ${clash} of node ${o.name}`);
    }
  }
}

export const nodeSelect = {
  id: true,
  name: true,
  labels: true,
  addresses: true,
  podCIDRv4: true,
  podCIDRv6: true,
  joinState: true,
  agentVersion: true,
  appliedRevision: true,
  lastHeartbeatAt: true,
  lastStatus: true,
  joinedAt: true,
  version: true,
  createdAt: true,
  updatedAt: true,
  updatedBy: true,
} as const;

type NodeRow = {
  labels: unknown;
  podCIDRv4: string[];
  podCIDRv6: string[];
  lastStatus: unknown;
} & Record<string, unknown>;

export function nodeOutputOf<R extends NodeRow>(row: R) {
  const { podCIDRv4, podCIDRv6, ...rest } = row;
  return {
    ...rest,
    labels: (row.labels ?? {}) as Labels,
    podCIDRs: [...podCIDRv4, ...podCIDRv6],
    lastStatus: row.lastStatus ?? null,
  };
}
