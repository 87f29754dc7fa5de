import path from "node:path";
import { createMeridianClient } from "@meridian/api/client";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bgpSessions } from "../../apps/web/src/lib/bgp-status";
import { buildLab, type Lab, run, teardownLab } from "./builder";
import { type ControlPlane, FRR_LAB_PARTS, startControlPlane, until } from "./control-plane-harness";
import { DEMO_BGP, startDemoBgp } from "./demo-bgp";
import { FABRIC, type LabTopology } from "./topology";

const realParts = needs("the npm start demo's BGP", FRR_LAB_PARTS);

const prefix = `mrdlabg${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "demo-n1", podCIDRs: ["10.244.41.0/24"] },
    { name: "demo-n2", podCIDRs: ["10.244.42.0/24"] },
  ],
  pods: [],
  router: true,
};

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let admin: ReturnType<typeof createMeridianClient>;

function vtysh(cmd: string): Promise<string> {
  return run("ip", [
    "netns",
    "exec",
    `${prefix}router`,
    "vtysh",
    "--vty_socket",
    path.join(lab!.dir, "frr"),
    "-c",
    cmd,
  ]);
}

describe.skipIf(realParts.skip)(
  "the npm start demo's BGP: FRR as the lab ToR, configured through the API",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
      const token = await (await cp.h.as("admin")).apiTokens.create({ name: "demo-bgp", role: "admin" });
      admin = createMeridianClient({ url: cp.api.url, token: token.secret });
    }, 180_000);

    afterAll(async () => {
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix).catch(() => undefined);
      await cp?.close();
    }, 60_000);

    it("brings both nodes' sessions up with FRR and says so", async () => {
      const said = await startDemoBgp({ prefix, topology, client: admin });
      expect(said).toBe(
        "BGP demo: 2 of 2 nodes Established with the lab ToR (FRR, AS 65000); see BGP in the console",
      );
      const sessions = await until(
        "both sessions Established in the API's status",
        async () => {
          const s = bgpSessions((await admin.status.overview.query()).nodes).filter(
            (x) => x.peer === FABRIC.v4(FABRIC.routerHost) && x.state === "established",
          );
          return s.length === 2 ? s : undefined;
        },
        60_000,
      );
      expect(sessions.map((s) => s.node).sort()).toEqual(["demo-n1", "demo-n2"]);
    }, 120_000);

    it("FRR holds each node's PodCIDR with the advertisement's community", async () => {
      for (const n of topology.nodes) {
        const j = await until(`${n.podCIDRs[0]} in FRR`, async () => {
          const r = JSON.parse((await vtysh(`show bgp ipv4 unicast ${n.podCIDRs[0]} json`)) || "{}") as {
            paths?: { community?: { string: string } }[];
          };
          return r.paths?.[0];
        });
        expect(j.community?.string).toBe(`${DEMO_BGP.nodeASN}:100`);
      }
    });

    it("the looking glass holds the DC prefixes the import policy accepts, not the one it rejects", async () => {
      const received = await until("the looking glass of demo-n1", async () => {
        const routes = JSON.parse(
          await lab!.agentCli("demo-n1", ["bgp", "routes", "received", DEMO_BGP.peer, "--json"]),
        ) as { prefix: string }[];
        return routes.length >= 3 ? routes.map((r) => r.prefix).sort() : undefined;
      });
      expect(received).toEqual(["172.16.30.0/24", "198.51.100.0/24", "2001:db8:30::/48"]);
    });

    it("a second run reuses what exists: no new revision", async () => {
      const before = (await admin.audit.list.query({ limit: 1 })).current;
      expect(await startDemoBgp({ prefix, topology, client: admin })).toContain("2 of 2 nodes Established");
      expect((await admin.audit.list.query({ limit: 1 })).current).toBe(before);
    });
  },
);
