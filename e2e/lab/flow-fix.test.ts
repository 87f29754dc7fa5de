// The flow → fix loop on real traffic: a connection the eBPF datapath drops by default deny
// reaches the control plane as a flow record; flows.explain offers the rule that would allow it;
// saved as the console's editor saves it (policies.update with the fix's spec), the same
// connection succeeds, and the datapath's next flow record names the new rule. One node joined to
// a real API on PostgreSQL; needs root (`npm test`, or DATABASE_URL); skipped otherwise.
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
import type { LabTopology } from "./topology";
import { startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabflx${process.pid}-`;
const topology: LabTopology = {
  nodes: [{ name: "fx-n1", podCIDRs: ["10.244.31.0/24"] }],
  pods: [
    { node: "fx-n1", name: "db-1", namespace: "shop", labels: { app: "db" } },
    { node: "fx-n1", name: "client-1", namespace: "other", labels: { app: "client" } },
  ],
};

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let server: TcpServer | undefined;

const pod = (name: string) => lab!.pods.get(name)!;

describe.skipIf(needs("the flow → fix loop on real traffic", LAB_PARTS).skip)(
  "the flow → fix loop on real traffic",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, {
        prefix,
        controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
        routesFromControlPlane: true,
      });
      server = await startTcpServer(pod("db-1").netns, 5432, "db-1");
      for (const p of topology.pods)
        await until(
          `${p.name} has its identity in the kernel`,
          async () => ((await kernelPolicy(lab!, p.name)).endpoint?.identity ?? 5) !== 5,
          30_000,
        );
    }, 300_000);

    afterAll(async () => {
      await server?.stop().catch(() => undefined);
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix);
      await cp?.close();
    }, 60_000);

    it("a denied connection's suggested rule, saved, makes the same connection succeed", async () => {
      const db = pod("db-1");
      const client = pod("client-1");
      const policy = await cp!.client.policies.create.mutate({
        namespace: "shop",
        name: "db-lockdown",
        spec: {
          endpointSelector: { matchLabels: { app: "db" } },
          ingress: [
            {
              fromEndpoints: [{ matchLabels: { app: "web" } }],
              toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
            },
          ],
        },
      });
      await until("db-1 under ingress enforcement", async () =>
        (await kernelPolicy(lab!, "db-1")).endpoint?.ingressEnforced ? true : undefined,
      );
      expect((await tcpConnect(client.netns, db.ipv4!, 5432, 1_500)).ok).toBe(false);

      // The agent reports the drop (every 15 s); the control plane explains it and offers the fix.
      const from = new Date(Date.now() - 600_000);
      const record = await until(
        "the dropped flow record in the API",
        async () =>
          (
            await cp!.client.flows.query.query({
              from,
              verdict: "dropped",
              ip: client.ipv4!,
              endpoint: "shop/db-1",
            })
          ).items[0],
        45_000,
      );
      expect(record).toMatchObject({ reason: "policy_default", direction: "ingress", port: 5432 });
      const why = await cp!.client.flows.explain.query({ id: record.id });
      const fix = why.fixes.find((f) => f.kind === "existing");
      expect(fix).toMatchObject({
        policyId: policy.id,
        words: "allow ingress from other pods app=client on TCP 5432",
        verdict: "allow",
      });

      // Saved as the editor saves it: the same connection now gets through …
      await cp!.client.policies.update.mutate({
        id: policy.id,
        version: fix!.version!,
        spec: fix!.spec as never,
      });
      const ok = await until(
        "client-1 reaches db-1:5432",
        async () => {
          const r = await tcpConnect(client.netns, db.ipv4!, 5432, 1_500);
          return r.ok ? r : undefined;
        },
        20_000,
      );
      expect(ok.reply).toBe(`db-1 ${client.ipv4}`);
      // … another port stays closed …
      expect((await tcpConnect(client.netns, db.ipv4!, 5433, 1_500)).ok).toBe(false);
      // … and the datapath's record of it names the new rule.
      const allowed = await until(
        "the allowed flow record naming the new rule",
        async () =>
          (
            await cp!.client.flows.query.query({
              from,
              verdict: "forwarded",
              ip: client.ipv4!,
              ruleId: "shop/db-lockdown/ingress[1]",
            })
          ).items[0],
        45_000,
      );
      expect(allowed).toMatchObject({ port: 5432, direction: "ingress", endpoint: "shop/db-1" });
    }, 180_000);
  },
);
