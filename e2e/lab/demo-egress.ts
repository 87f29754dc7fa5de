// Egress Gateway for the `npm start` demo: the shop's web pods reach ext1 through the lab's second
// node, which translates them to its own fabric address, so ext1's web server (which answers with
// the address it saw) shows the egress IP whichever node the pod runs on, while other pods — and
// the same pods to any other destination — keep their own address. Created through the API as an
// operator would; idempotent (a second run reuses the policy).
import type { MeridianClient } from "@meridian/api/client";
import { startExt1WebServer } from "./demo-dns";
import { FABRIC, type LabTopology, nodeHost } from "./topology";

export const DEMO_EGRESS = {
  name: "shop-web-to-ext1",
  namespace: "shop",
  selector: { app: "web" },
} as const;

/** The gateway is the lab's second node; the egress IP its fabric address. */
export function demoEgressGateway(topology: LabTopology): { node: string; egressIP: string } | undefined {
  const node = topology.nodes[1]?.name;
  return node ? { node, egressIP: FABRIC.v4(nodeHost(topology, node)) } : undefined;
}

export function demoEgressPolicy(gateway: { node: string; egressIP: string }) {
  return {
    selectors: [
      {
        podSelector: { matchLabels: { ...DEMO_EGRESS.selector } },
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": DEMO_EGRESS.namespace } },
      },
    ],
    destinationCIDRs: [`${FABRIC.v4(FABRIC.externalHost(0))}/32`],
    gateways: [{ nodeName: gateway.node, egressIP: gateway.egressIP }],
  };
}

/** Creates the demo egress policy through `client` (an admin); returns what it did, or why not. */
export async function startDemoEgress(opts: {
  prefix: string;
  topology: LabTopology;
  client: MeridianClient;
}): Promise<string> {
  const gateway = demoEgressGateway(opts.topology);
  if (!gateway) return "Egress demo skipped: the lab has one node";
  if (!opts.topology.externals?.includes("ext1")) return "Egress demo skipped: the lab has no ext1";
  startExt1WebServer(opts.prefix);
  const { client } = opts;
  const existing = (await client.egress.list.query({ search: DEMO_EGRESS.name })).items.some(
    (p) => p.name === DEMO_EGRESS.name,
  );
  if (!existing) {
    await client.egress.create.mutate({
      name: DEMO_EGRESS.name,
      description: "demo: the shop's web pods reach ext1 with node2's address (Egress page)",
      spec: demoEgressPolicy(gateway),
    });
  }
  const ext1 = FABRIC.v4(FABRIC.externalHost(0));
  return `Egress demo: policy ${DEMO_EGRESS.name} sends the shop's app=web pods to ${ext1} through ${gateway.node}, which translates them to ${gateway.egressIP}; curl http://${ext1}/ from a web pod shows it; see Egress in the console`;
}
