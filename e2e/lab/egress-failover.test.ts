// Egress gateway failover on real traffic: two gateway nodes picked by a node selector, one pod
// node, an external server that records the source of every connection. A selected pod opens a
// new connection every 50 ms and holds a long-lived one while gateway A (ega-n2, first in the
// control plane's order) fails — its agent killed, then separately its link cut at the fabric —
// and the time until new connections succeed through gateway B (ega-n3) with B's egress IP is
// measured and must stay under a second. The server never sees a pod address. When A is back
// (agent restarted, link up) new connections go back to it once it answered probes for a whole
// timeout; connections on B stay there. Needs root and PostgreSQL; skipped otherwise.
//
//   ega-n1 (10.99.0.1): sel-1 ──┐
//   ega-n2 (10.99.0.2, gateway A) ──┼── fabric ── ega-x1 (10.99.0.200, records sources)
//   ega-n3 (10.99.0.3, gateway B) ──┘
import { readFileSync } from "node:fs";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, run, teardownLab } from "./builder";
import {
  type ControlPlane,
  kernelPolicy,
  LAB_PARTS,
  startControlPlane,
  until,
} from "./control-plane-harness";
import type { LabTopology } from "./topology";
import {
  type ConnectAttempt,
  type RecordingServer,
  startConnectLoop,
  startEchoServer,
  startRecordingServer,
  startStream,
  type TcpServer,
} from "./traffic";

const prefix = `mrdlabega${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "ega-n1", podCIDRs: ["10.244.51.0/24", "fd00:10:244:51::/64"] },
    { name: "ega-n2", podCIDRs: ["10.244.52.0/24", "fd00:10:244:52::/64"] },
    { name: "ega-n3", podCIDRs: ["10.244.53.0/24", "fd00:10:244:53::/64"] },
  ],
  pods: [{ node: "ega-n1", name: "sel-1", namespace: "legacy", labels: { app: "billing" } }],
  externals: ["ega-x1"],
};
const A = { node: "ega-n2", ip: "10.99.0.2" };
const B = { node: "ega-n3", ip: "10.99.0.3" };
const PORT = 8080;
const ECHO_PORT = 8081;
const RUNS = Number(process.env.EGA_RUNS ?? 3);
const trace = (m: string) => process.env.EGA_TRACE && console.log(`${new Date().toISOString()} ${m}`);

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let x1: RecordingServer | undefined;
let echo: TcpServer | undefined;
const figures: { fault: string; failoverMs: number; failbackMs: number; longLived: string }[] = [];

const pod = (name: string) => lab!.pods.get(name)!;
const ext = () => lab!.externals.get("ega-x1")!;

function agentLogs(): string {
  return [...lab!.nodes.values()]
    .map((n) => `--- ${n.name}\n${readFileSync(n.logFile, "utf8").slice(-2500)}`)
    .join("\n");
}

interface EgressPolicyView {
  policy: string;
  activeGateway: string | null;
  intendedGateway?: string | null;
  gateways?: { node: string; healthy: boolean; reason?: string }[];
  failovers?: number;
  lastFailover?: { from: string | null; to: string | null; reason: string; durationMs: number | null } | null;
}
const egressView = async (node: string) =>
  (JSON.parse(await lab!.agentCli(node, ["egress", "--json"])) as { policies: EgressPolicyView[] }).policies;
const activeOn = async (node: string) => (await egressView(node))[0]?.activeGateway ?? null;

/** The fabric (hub) side of a node's link: cutting it leaves the node's own routes in place. */
async function hubPort(node: string): Promise<string> {
  const [eth0] = JSON.parse(
    await run("ip", ["-n", lab!.nodes.get(node)!.netns, "-j", "link", "show", "eth0"]),
  ) as { link_index: number }[];
  const links = JSON.parse(await run("ip", ["-n", lab!.hub, "-j", "link", "show"])) as {
    ifindex: number;
    ifname: string;
  }[];
  const port = links.find((l) => l.ifindex === eth0!.link_index);
  if (!port) throw new Error(`no hub port for ${node}`);
  return port.ifname.split("@")[0]!;
}

const sourceOf = (a: ConnectAttempt) => (a.ok ? a.reply.split(" ")[1] : undefined);

/**
 * One failure of gateway A: connections every 50 ms and a long-lived stream through A, then
 * `fault`; returns the time from the fault until a new connection had succeeded through B.
 * Then `repair`, and the time until new connections leave through A again.
 */
async function failOnce(fault: () => Promise<void>, repair: () => Promise<void>) {
  await until("ega-n1 steers through A", async () => (await activeOn("ega-n1")) === A.node, 15_000);
  trace("steering through A");
  const serverBefore = x1!.sources().length;
  const stream = await startStream(pod("sel-1").netns, ext().ipv4, ECHO_PORT);
  const loop = await startConnectLoop(pod("sel-1").netns, ext().ipv4, PORT, 50, 500);
  try {
    await until(
      "connections through A",
      async () => loop.attempts().filter((a) => sourceOf(a) === A.ip).length >= 5,
      5_000,
    );
    trace("through A");
    const faultAt = Date.now();
    await fault();
    const viaB = await until(
      "a new connection through B",
      async () => loop.attempts().find((a) => a.start >= faultAt && sourceOf(a) === B.ip),
      10_000,
    );
    const failoverMs = viaB.end - faultAt;
    trace(`via B after ${failoverMs} ms`);
    // The long-lived connection, pinned to A: does it still carry data a second later?
    await new Promise((r) => setTimeout(r, 1_000));
    const repairAt = Date.now();
    await repair();
    const viaA = await until(
      "new connections through A again",
      async () => loop.attempts().find((a) => a.start >= repairAt && sourceOf(a) === A.ip),
      20_000,
    );
    const failbackMs = viaA.end - repairAt;
    trace(`back via A after ${failbackMs} ms`);
    const attempts = await loop.stop();
    trace("loop stopped");
    const s = await stream.stop();
    trace(`stream ${JSON.stringify(s)}`);
    // Nothing ever left with the pod's address: the server saw egress IPs only.
    const seen = new Set(x1!.sources().slice(serverBefore));
    expect([...seen].filter((a) => a !== A.ip && a !== B.ip)).toEqual([]);
    expect(seen.has(B.ip)).toBe(true);
    // After the switch to B and before the repair, every new connection succeeded through B.
    const settled = attempts.filter((a) => a.start >= viaB.end && a.end < repairAt);
    expect(settled.length).toBeGreaterThan(10);
    expect(settled.every((a) => sourceOf(a) === B.ip)).toBe(true);
    return {
      failoverMs,
      failbackMs,
      longLived: s.error
        ? `cut (${s.error})`
        : s.received >= s.sent
          ? "survived"
          : `stalled (${s.received}/${s.sent})`,
    };
  } finally {
    await loop.stop().catch(() => []);
  }
}

describe.skipIf(needs("egress gateway failover on real traffic", LAB_PARTS).skip)(
  "egress gateway failover on real traffic",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, {
        prefix,
        controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
        routesFromControlPlane: true,
      });
      x1 = await startRecordingServer(ext().netns, PORT, "x1");
      echo = await startEchoServer(ext().netns, ECHO_PORT);
      await until(
        "sel-1 has its identity in the kernel",
        async () => ((await kernelPolicy(lab!, "sel-1")).endpoint?.identity ?? 5) !== 5,
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${agentLogs()}`);
      });
      // The gateways are the nodes labelled egress=gw (a node selector, not names).
      const admin = await cp.h.as("admin");
      for (const n of (await admin.nodes.list({})).items.filter((x) => x.name !== "ega-n1")) {
        await admin.nodes.update({ id: n.id, version: n.version, labels: { ...n.labels, egress: "gw" } });
      }
      await cp.client.egress.create.mutate({
        name: "billing-ha",
        spec: {
          selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
          destinationCIDRs: ["10.99.0.192/26"],
          gateways: [{ nodeSelector: { matchLabels: { egress: "gw" } } }],
          // The defaults: probes every 100 ms, a gateway failed after 400 ms of silence.
        },
      });
      for (const node of ["ega-n1", "ega-n2", "ega-n3"]) {
        await until(
          `${node} applied the policy`,
          async () => (await egressView(node)).length === 1,
          30_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${agentLogs()}`);
        });
      }
    }, 300_000);

    afterAll(async () => {
      if (figures.length) console.log(`egress failover figures: ${JSON.stringify(figures)}`);
      await x1?.stop().catch(() => undefined);
      await echo?.stop().catch(() => undefined);
      // A link cut by a failed test is restored by the teardown (the hub namespace goes).
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix);
      await cp?.close();
    }, 60_000);

    it("every node has the control plane's order, A first, all healthy; B stands by and would translate", async () => {
      for (const node of ["ega-n1", "ega-n2", "ega-n3"]) {
        const [p] = await egressView(node);
        expect(p).toMatchObject({
          activeGateway: A.node,
          intendedGateway: A.node,
          gateways: [
            { node: A.node, healthy: true },
            { node: B.node, healthy: true },
          ],
        });
      }
      // B, standby, keeps its egress IP in the datapath with the translate flag.
      const dp = JSON.parse(await lab!.agentCli(B.node, ["egress", "--json"])) as {
        datapath?: { gateways: { mode: string; egressIP?: string; translate?: boolean }[] };
      };
      expect(dp.datapath?.gateways).toEqual([
        expect.objectContaining({ mode: "remote", nexthop: A.ip, egressIP: B.ip, translate: true }),
      ]);
    });

    it(`A's agent killed: new connections leave through B with B's egress IP in under a second (${RUNS} runs)`, async () => {
      for (let i = 0; i < RUNS; i++) {
        const r = await failOnce(
          () => lab!.stopAgent(A.node),
          () => lab!.startAgent(A.node),
        );
        figures.push({ fault: "agent killed", ...r });
        expect(r.failoverMs).toBeLessThan(1_000);
      }
      // The pod node says what happened: A left for a timeout, and how long the switch took.
      const [p] = await egressView("ega-n1");
      expect(p!.failovers).toBeGreaterThanOrEqual(2 * RUNS);
      expect(p!.activeGateway).toBe(A.node);
      // The last move was the failback to A; the one before it the failover.
      expect(p!.lastFailover).toMatchObject({ from: B.node, to: A.node });
    }, 180_000);

    it(`A's link cut: new connections leave through B in under a second; back to A once its link is up (${RUNS} runs)`, async () => {
      const port = await hubPort(A.node);
      try {
        for (let i = 0; i < RUNS; i++) {
          let failover: EgressPolicyView["lastFailover"];
          const r = await failOnce(
            async () => {
              await run("ip", ["-n", lab!.hub, "link", "set", port, "down"]);
            },
            async () => {
              failover = (await egressView("ega-n1"))[0]?.lastFailover;
              await run("ip", ["-n", lab!.hub, "link", "set", port, "up"]);
            },
          );
          figures.push({ fault: "link cut", ...r });
          expect(r.failoverMs).toBeLessThan(1_000);
          expect(failover).toMatchObject({ from: A.node, to: B.node, reason: "timeout" });
          expect(failover!.durationMs).toBeLessThan(1_000);
        }
      } finally {
        await run("ip", ["-n", lab!.hub, "link", "set", port, "up"]).catch(() => undefined);
      }
    }, 180_000);

    it("both gateways down: the pod's connections are dropped, never sent with its own address", async () => {
      const before = x1!.sources().length;
      await lab!.stopAgent(A.node);
      await lab!.stopAgent(B.node);
      try {
        await until("ega-n1 has no healthy gateway", async () => (await activeOn("ega-n1")) === null, 5_000);
        const [p] = await egressView("ega-n1");
        expect(p!.gateways?.every((g) => !g.healthy)).toBe(true);
        const loop = await startConnectLoop(pod("sel-1").netns, ext().ipv4, PORT, 100, 400);
        await new Promise((r) => setTimeout(r, 1_000));
        const attempts = await loop.stop();
        expect(attempts.length).toBeGreaterThan(5);
        expect(attempts.filter((a) => a.ok)).toEqual([]);
        expect(x1!.sources().slice(before)).toEqual([]);
      } finally {
        await lab!.startAgent(A.node);
        await lab!.startAgent(B.node);
      }
      await until("ega-n1 steers through A again", async () => (await activeOn("ega-n1")) === A.node, 10_000);
    }, 60_000);
  },
);
