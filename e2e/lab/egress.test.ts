// Egress gateway on real traffic: two nodes joined to a real control plane, an egress policy written
// through the API, enforced by the eBPF datapath. External servers on the fabric record the source
// address of every TCP connection they accept. A selected pod on egw-n1 reaches them through the
// gateway egw-n2 with the egress IP (egw-n2's address); an unselected pod and an excluded CIDR
// arrive with the pod's own address; a pod started while the policy is in force is steered from
// its first connection. Needs root and PostgreSQL (`npm test`, or DATABASE_URL); skipped otherwise.
//
//   egw-n1 (10.99.0.1): sel-1, other-1 ──┐
//   egw-n2 (10.99.0.2, gateway): sel-2 ──┼── fabric ── egw-x1 (10.99.0.200, destination)
//                                        └──────────── egw-x2 (10.99.0.201, excluded)
import { readFileSync } from "node:fs";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import {
  type ControlPlane,
  dropCounters,
  kernelPolicy,
  LAB_PARTS,
  startControlPlane,
  until,
} from "./control-plane-harness";
import type { LabTopology } from "./topology";
import { type RecordingServer, startRecordingServer, tcpConnect } from "./traffic";

const prefix = `mrdlabegw${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "egw-n1", podCIDRs: ["10.244.41.0/24", "fd00:10:244:41::/64"] },
    { name: "egw-n2", podCIDRs: ["10.244.42.0/24", "fd00:10:244:42::/64"] },
  ],
  pods: [
    { node: "egw-n1", name: "sel-1", namespace: "legacy", labels: { app: "billing" } },
    { node: "egw-n1", name: "other-1", namespace: "legacy", labels: { app: "web" } },
    { node: "egw-n2", name: "sel-2", namespace: "legacy", labels: { app: "billing" } },
  ],
  externals: ["egw-x1", "egw-x2"],
};
const EGRESS_IP = "10.99.0.2";
const PORT = 8080;

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let x1: RecordingServer | undefined;
let x2: RecordingServer | undefined;
let policy: { id: string; version: number } | undefined;

const pod = (name: string) => lab!.pods.get(name)!;
const ext = (name: string) => lab!.externals.get(name)!;
const connect = (from: string, to: string) => tcpConnect(pod(from).netns, ext(to).ipv4, PORT, 3_000);

function agentLogs(): string {
  return [...lab!.nodes.values()]
    .map((n) => `--- ${n.name}\n${readFileSync(n.logFile, "utf8").slice(-2500)}`)
    .join("\n");
}

interface EgressView {
  policies: {
    policy: string;
    role: string;
    mode: { ipv4: string | null };
    activeGateway: string | null;
    egressIP: string | null;
    selectedLocalPods: number;
    snatEntries: number;
    problems: string[];
  }[];
  counters: Record<string, number>;
}
const egressView = async (node: string) =>
  JSON.parse(await lab!.agentCli(node, ["egress", "--json"])) as EgressView & { error: string | null };

describe.skipIf(needs("egress gateway on real traffic", LAB_PARTS).skip)(
  "egress gateway on real traffic",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, {
        prefix,
        controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
        routesFromControlPlane: true,
      });
      x1 = await startRecordingServer(ext("egw-x1").netns, PORT, "x1");
      x2 = await startRecordingServer(ext("egw-x2").netns, PORT, "x2");
      for (const p of topology.pods) {
        await until(
          `${p.name} has its identity in the kernel`,
          async () => ((await kernelPolicy(lab!, p.name)).endpoint?.identity ?? 5) !== 5,
          30_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${agentLogs()}`);
        });
      }
      // Before the policy: every pod reaches the servers with its own address.
      expect(await connect("sel-1", "egw-x1")).toEqual({ ok: true, reply: `x1 ${pod("sel-1").ipv4}` });
      const created = await cp.client.egress.create.mutate({
        name: "billing-partner",
        spec: {
          selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
          destinationCIDRs: ["10.99.0.192/26"],
          excludedCIDRs: ["10.99.0.201/32"],
          gateways: [{ nodeName: "egw-n2", egressIP: EGRESS_IP }],
        },
      });
      policy = { id: created.id, version: created.version };
      for (const node of ["egw-n1", "egw-n2"]) {
        await until(
          `${node} applied the egress policy`,
          async () => (await egressView(node)).policies.some((p) => p.policy === "billing-partner"),
          30_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${agentLogs()}`);
        });
      }
    }, 300_000);

    afterAll(async () => {
      await x1?.stop().catch(() => undefined);
      await x2?.stop().catch(() => undefined);
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix);
      await cp?.close();
    }, 60_000);

    it("each node says what it does with the policy: n1 steers its pod to n2, n2 translates", async () => {
      const n1 = (await egressView("egw-n1")).policies[0]!;
      expect(n1).toMatchObject({
        role: "source",
        mode: { ipv4: "steer" },
        activeGateway: "egw-n2",
        egressIP: EGRESS_IP,
        selectedLocalPods: 1,
        problems: [],
      });
      const n2 = (await egressView("egw-n2")).policies[0]!;
      expect(n2).toMatchObject({
        role: "source+gateway",
        mode: { ipv4: "snat" },
        egressIP: EGRESS_IP,
        problems: [],
      });
      // The gateway runs its translation on its uplink.
      const status = JSON.parse(await lab!.agentCli("egw-n2", ["status", "--json"])) as {
        egress: { policies: number; error: string | null };
      };
      expect(status.egress).toEqual({ policies: 1, error: null });
    });

    it("a selected pod on another node reaches the destination with the egress IP, every connection", async () => {
      const before = x1!.sources().length;
      for (let i = 0; i < 10; i++) {
        expect(await connect("sel-1", "egw-x1")).toEqual({ ok: true, reply: `x1 ${EGRESS_IP}` });
      }
      // The server saw nothing else in the meantime: no connection left with the pod's own address.
      expect(new Set(x1!.sources().slice(before))).toEqual(new Set([EGRESS_IP]));
      expect((await egressView("egw-n1")).counters.steered).toBeGreaterThan(0);
      const n2 = await egressView("egw-n2");
      expect(n2.counters.snat).toBeGreaterThan(0);
      expect(n2.counters.reverse_snat).toBeGreaterThan(0);
      expect(n2.policies[0]!.snatEntries).toBeGreaterThanOrEqual(10);
      const snat = JSON.parse(await lab!.agentCli("egw-n2", ["egress", "snat", "--json"])) as {
        pod: string;
        remote: string;
        egressIP: string;
        policy: string;
      }[];
      expect(snat.some((e) => e.pod === pod("sel-1").ipv4 && e.remote === ext("egw-x1").ipv4)).toBe(true);
      expect(new Set(snat.map((e) => `${e.egressIP} ${e.policy}`))).toEqual(
        new Set([`${EGRESS_IP} billing-partner`]),
      );
    });

    it("a selected pod on the gateway node itself leaves with the egress IP too", async () => {
      expect(await connect("sel-2", "egw-x1")).toEqual({ ok: true, reply: `x1 ${EGRESS_IP}` });
    });

    it("an unselected pod, and a selected pod to an excluded CIDR, keep their own address", async () => {
      expect(await connect("other-1", "egw-x1")).toEqual({ ok: true, reply: `x1 ${pod("other-1").ipv4}` });
      expect(await connect("sel-1", "egw-x2")).toEqual({ ok: true, reply: `x2 ${pod("sel-1").ipv4}` });
      expect(x2!.sources()).not.toContain(EGRESS_IP);
    });

    it("a selected pod started while the policy is in force uses the egress IP from its first connection", async () => {
      const before = x1!.sources().length;
      const p = await lab!.addPod({
        node: "egw-n1",
        name: "sel-3",
        namespace: "legacy",
        labels: { app: "billing" },
      });
      // CNI ADD has returned: connect at once.
      expect(await tcpConnect(p.netns, ext("egw-x1").ipv4, PORT, 3_000)).toEqual({
        ok: true,
        reply: `x1 ${EGRESS_IP}`,
      });
      expect(x1!.sources().slice(before)).toEqual([EGRESS_IP]);
    });

    it("no gateway left: the selected pods' connections are dropped as egress_no_gateway, never sent with their own address", async () => {
      const updated = await cp!.client.egress.update.mutate({
        ...policy!,
        spec: {
          selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
          destinationCIDRs: ["10.99.0.192/26"],
          excludedCIDRs: ["10.99.0.201/32"],
          // Matches no node: the compiler leaves the policy without a gateway (and says so).
          gateways: [{ nodeSelector: { matchLabels: { "egw-role": "gateway" } } }],
        },
      });
      policy = { id: updated.id, version: updated.version };
      await until(
        "egw-n1 has the policy without a gateway",
        async () => (await egressView("egw-n1")).policies[0]?.mode.ipv4 === "drop",
        30_000,
      );
      const n1 = (await egressView("egw-n1")).policies[0]!;
      expect(n1).toMatchObject({
        activeGateway: null,
        problems: ["no active gateway: matching traffic is dropped"],
      });
      const before = x1!.sources().length;
      const drops = (await dropCounters(lab!, "egw-n1")).get("egress_no_gateway/egress") ?? 0;
      expect(await tcpConnect(pod("sel-1").netns, ext("egw-x1").ipv4, PORT, 1_500)).toEqual({
        ok: false,
        reply: "timeout",
      });
      expect(x1!.sources().slice(before)).toEqual([]);
      expect((await dropCounters(lab!, "egw-n1")).get("egress_no_gateway/egress") ?? 0).toBeGreaterThan(
        drops,
      );
      // Unselected pods and excluded destinations are not affected.
      expect(await connect("other-1", "egw-x1")).toEqual({ ok: true, reply: `x1 ${pod("other-1").ipv4}` });
      expect(await connect("sel-1", "egw-x2")).toEqual({ ok: true, reply: `x2 ${pod("sel-1").ipv4}` });
    });

    it("the policy deleted: new connections leave with the pod's own address again", async () => {
      await cp!.client.egress.delete.mutate(policy!);
      await until(
        "egw-n1 dropped the egress policy",
        async () => (await egressView("egw-n1")).policies.length === 0,
        30_000,
      );
      await until(
        "egw-n2 dropped the egress policy",
        async () => (await egressView("egw-n2")).policies.length === 0,
        30_000,
      );
      expect(await connect("sel-1", "egw-x1")).toEqual({ ok: true, reply: `x1 ${pod("sel-1").ipv4}` });
      expect(await connect("sel-2", "egw-x1")).toEqual({ ok: true, reply: `x1 ${pod("sel-2").ipv4}` });
    });
  },
);
