// BGP for the `npm start` demo: FRR on the lab's router plays the top-of-rack switch (AS 65000),
// and the demo's nodes peer with it through objects created in the control plane, as an
// operator would: a label on each node, an instance that selects them, the ToR as a peer with an
// import policy, and a PodCIDR advertisement. The console's BGP page then shows live sessions
// and the looking glass has routes both ways. Idempotent: a second run reuses what exists.
import { existsSync } from "node:fs";
import path from "node:path";
import type { MeridianClient } from "@meridian/api/client";
import { labDir } from "./builder";
import { FRR_BGPD, startFrr } from "./frr";
import { FABRIC, type LabTopology } from "./topology";

export const DEMO_BGP = {
  torASN: 65000,
  nodeASN: 64512,
  label: { "meridian.io/lab-bgp": "tor" },
  instance: "lab-fabric",
  peer: "lab-tor",
  advertisement: "lab-pod-cidrs",
  /** What the ToR sends: DC prefixes the import policy takes, and one it does not. */
  torNetworks: { ipv4: ["172.16.30.0/24", "198.51.100.0/24", "203.0.113.0/24"], ipv6: ["2001:db8:30::/48"] },
} as const;

function torConfig(): string {
  const router = FABRIC.v4(FABRIC.routerHost);
  return `frr defaults traditional
hostname mrd-tor
!
router bgp ${DEMO_BGP.torASN}
 bgp router-id ${router}
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor nodes peer-group
 neighbor nodes remote-as ${DEMO_BGP.nodeASN}
 ! Any node on the fabric may dial in: nodes come and go without a config change here.
 bgp listen range ${FABRIC.v4(0)}/24 peer-group nodes
 address-family ipv4 unicast
${DEMO_BGP.torNetworks.ipv4.map((n) => `  network ${n}`).join("\n")}
  neighbor nodes activate
 exit-address-family
 address-family ipv6 unicast
${DEMO_BGP.torNetworks.ipv6.map((n) => `  network ${n}`).join("\n")}
  neighbor nodes activate
 exit-address-family
!
`;
}

/** Creates the object unless one of that name exists (a second run, or an operator's edit). */
async function createOnce(
  list: (q: { search: string }) => Promise<{ items: { name: string }[] }>,
  name: string,
  create: () => Promise<unknown>,
): Promise<void> {
  if ((await list({ search: name })).items.some((x) => x.name === name)) return;
  await create();
}

/**
 * Starts FRR on the lab router and configures BGP for `topology`'s nodes through `client` (an
 * admin). Returns what it did, or why it did nothing (FRR missing, no router in the lab).
 */
export async function startDemoBgp(opts: {
  prefix: string;
  topology: LabTopology;
  client: MeridianClient;
}): Promise<string> {
  if (!opts.topology.router) return "BGP demo skipped: the lab has no router";
  if (!existsSync(FRR_BGPD)) return "BGP demo skipped: FRR is not installed (apt-get install frr)";
  const frr = await startFrr(`${opts.prefix}router`, path.join(labDir(opts.prefix), "frr"), torConfig());
  const { client } = opts;

  for (const n of opts.topology.nodes) {
    const node = (await client.nodes.list.query({ search: n.name })).items.find((x) => x.name === n.name);
    if (!node || node.labels["meridian.io/lab-bgp"] === DEMO_BGP.label["meridian.io/lab-bgp"]) continue;
    await client.nodes.update.mutate({
      id: node.id,
      version: node.version,
      labels: { ...node.labels, ...DEMO_BGP.label },
    });
  }
  await createOnce(client.bgp.instances.list.query, DEMO_BGP.instance, () =>
    client.bgp.instances.create.mutate({
      name: DEMO_BGP.instance,
      spec: { nodeSelector: { matchLabels: { ...DEMO_BGP.label } }, localASN: DEMO_BGP.nodeASN },
    }),
  );
  await createOnce(client.bgp.peers.list.query, DEMO_BGP.peer, () =>
    client.bgp.peers.create.mutate({
      name: DEMO_BGP.peer,
      spec: {
        instance: DEMO_BGP.instance,
        address: FABRIC.v4(FABRIC.routerHost),
        peerASN: DEMO_BGP.torASN,
        connectRetrySeconds: 5,
        families: ["ipv4-unicast", "ipv6-unicast"],
        // The DC's own prefixes only; 203.0.113.0/24 is sent too and stays out.
        importPolicy: {
          rules: [
            { prefix: "172.16.0.0/12", le: 32, action: "accept" },
            { prefix: "198.51.100.0/24", action: "accept" },
            { prefix: "2001:db8:30::/48", le: 64, action: "accept" },
          ],
        },
      },
    }),
  );
  await createOnce(client.bgp.advertisements.list.query, DEMO_BGP.advertisement, () =>
    client.bgp.advertisements.create.mutate({
      name: DEMO_BGP.advertisement,
      spec: { type: "PodCIDR", communities: [`${DEMO_BGP.nodeASN}:100`], peers: [DEMO_BGP.peer] },
    }),
  );

  // The agents pick the change up with their next desired state; report once FRR sees them.
  const deadline = Date.now() + 60_000;
  let up = 0;
  while (Date.now() < deadline) {
    const summary = JSON.parse(
      (await frr.vtysh("show bgp ipv4 unicast summary json").catch(() => "")) || "{}",
    ) as {
      peers?: Record<string, { state?: string }>;
    };
    up = Object.values(summary.peers ?? {}).filter((p) => p.state === "Established").length;
    if (up >= opts.topology.nodes.length) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return `BGP demo: ${up} of ${opts.topology.nodes.length} nodes Established with the lab ToR (FRR, AS ${DEMO_BGP.torASN}); see BGP in the console`;
}
