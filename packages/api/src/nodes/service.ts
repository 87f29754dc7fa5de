// Node inventory rules that span nodes: no two nodes may share PodCIDR space or an address.

import { cidrContains, cidrOverlaps, type Labels, parseCidr, parseIp } from "@meridian/model";
import { fieldError } from "../errors";
import type { Tx } from "../revisions/commit";

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

/** The address part of an interface address (`10.0.0.1/24` → `10.0.0.1`), canonical. */
function addressOf(text: string): string | undefined {
  return parseIp(text.split("/")[0] ?? "")?.text;
}

/**
 * An agent's own addresses become every node's routes and the cluster's remote-node identity, so
 * an address must not be another node's, nor inside any node's PodCIDR (where pods live).
 */
export async function assertAddressesFree(tx: Tx, nodeName: string, addresses: string[]): Promise<void> {
  const nodes = await tx.node.findMany({
    select: { name: true, addresses: true, podCIDRv4: true, podCIDRv6: true },
  });
  for (const [i, text] of addresses.entries()) {
    const ip = addressOf(text);
    if (!ip) continue;
    for (const n of nodes) {
      if (n.name !== nodeName && n.addresses.some((a) => addressOf(a) === ip)) {
        throw fieldError(["addresses", i], `address ${ip} belongs to node ${n.name}`);
      }
      const cidr = [...n.podCIDRv4, ...n.podCIDRv6].find((c) => cidrContains(c, ip));
      if (cidr) throw fieldError(["addresses", i], `address ${ip} lies in PodCIDR ${cidr} of node ${n.name}`);
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
