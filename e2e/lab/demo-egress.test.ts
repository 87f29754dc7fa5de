// The npm start demo's egress policy (demo-egress.ts) on a small lab of the demo's shape: two nodes
// with real agents and eBPF datapaths, ext1's web server answering with the address it saw, the
// policy created through the API. What a newcomer sees: the shop's web pods reach ext1 with the
// second node's address from either node, the client pod with its own; the Egress page's data
// (egress.live) says each node's part as its agent reports it.
import { createMeridianClient } from "@meridian/api/client";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import {
  type ControlPlane,
  kernelPolicy,
  LAB_PARTS,
  startControlPlane,
  until,
} from "./control-plane-harness";
import { curlFrom } from "./demo-dns";
import { DEMO_EGRESS, demoEgressGateway, startDemoEgress } from "./demo-egress";
import { FABRIC, type LabTopology } from "./topology";

const prefix = `mrdlabde${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "de-n1", podCIDRs: ["10.244.47.0/24"] },
    { name: "de-n2", podCIDRs: ["10.244.48.0/24"] },
  ],
  pods: [
    { node: "de-n1", name: "web-1", namespace: "shop", labels: { app: "web" } },
    { node: "de-n1", name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: "de-n2", name: "web-2", namespace: "shop", labels: { app: "web" } },
  ],
  externals: ["ext1"],
};
const EXT1 = FABRIC.v4(FABRIC.externalHost(0));
const GATEWAY = demoEgressGateway(topology)!;

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let said = "";

describe.skipIf(needs("the npm start demo's egress policy", LAB_PARTS).skip)(
  "the npm start demo's egress policy: the shop's web pods leave through the second node",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, {
        prefix,
        controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
        routesFromControlPlane: true,
      });
      for (const p of topology.pods) {
        await until(
          `${p.name} has its identity in the kernel`,
          async () => ((await kernelPolicy(lab!, p.name)).endpoint?.identity ?? 5) !== 5,
          30_000,
        );
      }
    }, 300_000);

    afterAll(async () => {
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix).catch(() => undefined);
      await cp?.close();
    }, 60_000);

    it("creates the policy through the API, and says what a newcomer will see", async () => {
      const token = await (await cp!.h.as("admin")).apiTokens.create({ name: "demo-egress", role: "admin" });
      const admin = createMeridianClient({ url: cp!.api.url, token: token.secret });
      said = await startDemoEgress({ prefix, topology, client: admin });
      expect(said).toBe(
        `Egress demo: policy ${DEMO_EGRESS.name} sends the shop's app=web pods to ${EXT1} through de-n2, which translates them to ${GATEWAY.egressIP}; curl http://${EXT1}/ from a web pod shows it; see Egress in the console`,
      );
      // A second run (npm start again) reuses it.
      expect(await startDemoEgress({ prefix, topology, client: admin })).toBe(said);
      expect((await admin.egress.list.query({ search: DEMO_EGRESS.name })).items).toHaveLength(1);
    }, 60_000);

    it("web pods on either node reach ext1 with the gateway's address; the client pod with its own", async () => {
      const web1 = lab!.pods.get("web-1")!;
      await until(
        "web-1's connections leave through de-n2",
        async () => (await curlFrom(web1.netns, EXT1)) === `ext1 ${GATEWAY.egressIP}`,
        30_000,
      );
      for (let i = 0; i < 5; i++) expect(await curlFrom(web1.netns, EXT1)).toBe(`ext1 ${GATEWAY.egressIP}`);
      expect(await curlFrom(lab!.pods.get("web-2")!.netns, EXT1)).toBe(`ext1 ${GATEWAY.egressIP}`);
      const client = lab!.pods.get("client-1")!;
      expect(await curlFrom(client.netns, EXT1)).toBe(`ext1 ${client.ipv4}`);
    }, 60_000);

    it("the Egress page's data shows each node's part as its agent reports it", async () => {
      const viewer = await cp!.h.as("viewer");
      const live = await until(
        "both nodes' egress reports",
        async () => {
          const r = await viewer.egress.live();
          const p = r.policies.find((x) => x.name === DEMO_EGRESS.name);
          return p && p.nodes.length === 2 ? { r, p } : undefined;
        },
        30_000,
      );
      expect(live.r.nodesWithout).toEqual([]);
      expect(live.p.state).toBe("forwarding");
      expect(live.p.nodes.map((n) => [n.node, n.role, n.mode.ipv4, n.activeGateway, n.egressIP])).toEqual([
        ["de-n1", "source", "steer", "de-n2", GATEWAY.egressIP],
        ["de-n2", "source+gateway", "snat", "de-n2", GATEWAY.egressIP],
      ]);
      // (Translations are not asserted here: the curls above have closed, and the count is a report's
      // snapshot; e2e/lab/egress.test.ts checks them with `meridian-agent egress snat`.)
    });
  },
);
