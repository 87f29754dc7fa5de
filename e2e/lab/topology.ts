// The lab's description: what exists, not how it is built. Addresses are derived from
// positions so a description stays short; every address lives only inside the lab's
// namespaces (10.99.0.0/24 and fd99::/64 on the fabric, PodCIDRs per node).
export interface LabNode {
  name: string;
  /** One IPv4 and/or one IPv6 CIDR. */
  podCIDRs: string[];
}

export interface LabPod {
  node: string;
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export interface LabTopology {
  nodes: LabNode[];
  pods: LabPod[];
  /** A router namespace on the fabric (default gateway of nodes and externals). */
  router?: boolean;
  /** A namespace on the fabric for a DNS server (started by the features that need one). */
  dnsServer?: boolean;
  /** External servers on the fabric (to see pods' source addresses). */
  externals?: string[];
}

/** Fabric addresses. Nodes take .1, .2, …; the rest sit high in the range. */
export const FABRIC = {
  v4: (host: number) => `10.99.0.${host}`,
  v6: (host: number) => `fd99::${host.toString(16)}`,
  routerHost: 254,
  dnsHost: 53,
  externalHost: (i: number) => 200 + i,
} as const;

export function nodeHost(topology: LabTopology, node: string): number {
  const i = topology.nodes.findIndex((n) => n.name === node);
  if (i < 0) throw new Error(`no node named "${node}" in the lab topology`);
  return i + 1;
}

export function validateTopology(t: LabTopology): void {
  const problems: string[] = [];
  if (t.nodes.length === 0) problems.push("nodes: at least one node is required");
  if (t.nodes.length > 50) problems.push("nodes: at most 50 (fabric addresses .1-.50)");
  const names = new Set<string>();
  for (const [i, n] of t.nodes.entries()) {
    if (!/^[a-z0-9][a-z0-9-]{0,15}$/.test(n.name))
      problems.push(`nodes[${i}].name "${n.name}": lower-case letters, digits and -, at most 16`);
    if (names.has(n.name)) problems.push(`nodes[${i}].name "${n.name}" is used twice`);
    names.add(n.name);
    if (n.podCIDRs.length === 0) problems.push(`nodes[${i}].podCIDRs: at least one CIDR`);
  }
  const pods = new Set<string>();
  for (const [i, p] of t.pods.entries()) {
    if (!names.has(p.node)) problems.push(`pods[${i}].node "${p.node}" is not a node of the lab`);
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(p.name))
      problems.push(`pods[${i}].name "${p.name}": lower-case letters, digits and -`);
    if (pods.has(p.name)) problems.push(`pods[${i}].name "${p.name}" is used twice`);
    pods.add(p.name);
  }
  for (const [i, e] of (t.externals ?? []).entries()) {
    if (!/^[a-z0-9][a-z0-9-]{0,15}$/.test(e))
      problems.push(`externals[${i}] "${e}": lower-case letters, digits and -`);
  }
  if (problems.length) throw new Error(`invalid lab topology: ${problems.join("; ")}`);
}

/** The demo lab `npm run lab -- up` builds. */
export const demoTopology: LabTopology = {
  nodes: [
    { name: "node1", podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"] },
    { name: "node2", podCIDRs: ["10.244.2.0/24", "fd00:10:244:2::/64"] },
  ],
  pods: [
    { node: "node1", name: "web-1", namespace: "shop", labels: { app: "web" } },
    { node: "node1", name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: "node2", name: "db-1", namespace: "shop", labels: { app: "db" } },
    { node: "node2", name: "web-2", namespace: "shop", labels: { app: "web" } },
  ],
  router: true,
  dnsServer: true,
  externals: ["ext1"],
};
