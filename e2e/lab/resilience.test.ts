// The datapath outlives the agent and the control plane: a TCP stream and a ping run through an
// enforced policy while agents are SIGKILLed and restarted (nothing lost, a denied pod stays
// denied throughout), and an API outage changes no verdict; a change made after it comes back
// reaches the kernel. Needs root and PostgreSQL (`npm test`, or DATABASE_URL); skipped otherwise.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
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
import { startEchoServer, startStream, startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabr${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "r-n1", podCIDRs: ["10.244.31.0/24", "fd00:10:244:31::/64"] },
    { name: "r-n2", podCIDRs: ["10.244.32.0/24", "fd00:10:244:32::/64"] },
  ],
  pods: [
    { node: "r-n1", name: "web-1", namespace: "shop", labels: { app: "web" } },
    { node: "r-n1", name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: "r-n2", name: "db-1", namespace: "shop", labels: { app: "db" } },
  ],
};
const dbAllows = (apps: string[]) => ({
  endpointSelector: { matchLabels: { app: "db" } },
  ingress: apps.map((app) => ({
    fromEndpoints: [{ matchLabels: { app } }],
    toPorts: [
      {
        ports: [
          { port: "5432", protocol: "TCP" as const },
          { port: "5433", protocol: "TCP" as const },
          { port: "8", protocol: "ICMP" as const },
        ],
      },
    ],
  })),
});

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
const servers: TcpServer[] = [];
let policy: { id: string; version: number } | undefined;
const pod = (name: string) => lab!.pods.get(name)!;

/**
 * ping -i 0.2 from a pod until stopped (SIGINT makes ping print its statistics); resolves with
 * what it sent and got back. At 0.2 s intervals and sub-millisecond RTTs, a request still in
 * flight at SIGINT is a ~0.05% event.
 */
function startPing(netns: string, host: string) {
  const child: ChildProcess = spawn(
    "ip",
    ["netns", "exec", netns, "ping", "-n", "-i", "0.2", "-c", "3000", "-W", "2", host],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const done = new Promise<{ transmitted: number; received: number; out: string }>((resolve) =>
    child.once("exit", () => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      resolve({ transmitted: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out });
    }),
  );
  return {
    running: () => child.exitCode === null && child.signalCode === null,
    stop: () => {
      child.kill("SIGINT");
      return done;
    },
  };
}

/** Keep trying a connection that policy denies until stopped; returns how many got through. */
function probeDenied(netns: string, host: string, port: number) {
  let stop = false;
  let attempts = 0;
  let through = 0;
  const loop = (async () => {
    while (!stop) {
      const r = await tcpConnect(netns, host, port, 600);
      attempts++;
      if (r.ok) through++;
    }
  })();
  return {
    async stop() {
      stop = true;
      await loop;
      return { attempts, through };
    },
  };
}

describe.skipIf(needs("the datapath through agent restarts and control-plane outages", LAB_PARTS).skip)(
  "the datapath through agent restarts and control-plane outages",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
      // 5432: an echo server for the stream; 5433: a server that answers with who connected.
      servers.push(await startEchoServer(pod("db-1").netns, 5432));
      servers.push(await startTcpServer(pod("db-1").netns, 5433, "db-1"));
      policy = await cp.client.policies.create.mutate({
        namespace: "shop",
        name: "db-allows-web",
        spec: dbAllows(["web"]),
      });
      await until(
        "db-1's policy in the kernel",
        async () => {
          const k = await kernelPolicy(lab!, "db-1");
          return k.endpoint?.ingressEnforced && k.entries.some((e) => e.portLow === 5432);
        },
        30_000,
      ).catch((err: Error) => {
        const logs = [...lab!.nodes.values()]
          .map((n) => readFileSync(n.logFile, "utf8").slice(-2000))
          .join("\n");
        throw new Error(`${err.message}\n${logs}`);
      });
    }, 300_000);

    afterAll(async () => {
      for (const s of servers) await s.stop().catch(() => undefined);
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix);
      await cp?.close();
    }, 60_000);

    it("a TCP stream and a ping lose nothing while both agents are SIGKILLed and restarted, and policy holds", async () => {
      const db = pod("db-1").ipv4!;
      expect((await tcpConnect(pod("web-1").netns, db, 5433)).ok).toBe(true);
      expect((await tcpConnect(pod("client-1").netns, db, 5433, 800)).ok).toBe(false);
      const stream = await startStream(pod("web-1").netns, db, 5432);
      const ping = startPing(pod("web-1").netns, db);
      const denied = probeDenied(pod("client-1").netns, db, 5433);
      const logFrom = statSync(lab!.nodes.get("r-n2")!.logFile).size;
      const started = Date.now();
      await lab!.restartAgent("r-n2", "SIGKILL");
      await lab!.restartAgent("r-n1", "SIGKILL");
      const restartMs = Date.now() - started;
      // Restarted and adopted: the kernel state was already right, so nothing was rewritten.
      await until(
        "r-n2 reconnected",
        async () => {
          const s = JSON.parse(await lab!.agentCli("r-n2", ["status", "--json"])) as {
            controlPlane: { mode: string };
          };
          return s.controlPlane.mode === "connected";
        },
        60_000,
      );
      const n2Log = readFileSync(lab!.nodes.get("r-n2")!.logFile).subarray(logFrom).toString("utf8");
      expect(n2Log).toContain('"msg":"agent started"');
      expect(n2Log).not.toContain('"msg":"datapath reconciled"');
      await new Promise((r) => setTimeout(r, 1_000)); // a few pings after the last restart
      expect(ping.running()).toBe(true);
      const probes = await denied.stop();
      const s = await stream.stop();
      const p = await ping.stop();
      expect(s.error).toBeNull();
      expect(s.sent).toBeGreaterThan(10);
      expect(s.received).toBe(s.sent);
      expect(s.outOfOrder).toBe(0);
      expect(p.transmitted).toBeGreaterThan(10);
      expect(p.received).toBe(p.transmitted);
      expect(probes.attempts).toBeGreaterThan(2);
      expect(probes.through).toBe(0);
      console.info(
        `restart: agents down/up in ${restartMs} ms; stream ${s.received}/${s.sent}; ping ${p.received}/${p.transmitted}; denied probes ${probes.attempts}, through ${probes.through}`,
      );
    }, 240_000);

    it("with the API down nothing changes; when it is back, a change reaches the kernel", async () => {
      const db = pod("db-1").ipv4!;
      await cp!.stop();
      await until(
        "agents notice the outage",
        async () => {
          const s = JSON.parse(await lab!.agentCli("r-n2", ["status", "--json"])) as {
            controlPlane: { mode: string };
          };
          return s.controlPlane.mode === "disconnected";
        },
        60_000,
      );
      const [web, client] = await Promise.all([
        tcpConnect(pod("web-1").netns, db, 5433),
        tcpConnect(pod("client-1").netns, db, 5433, 1_000),
      ]);
      expect(web.ok).toBe(true);
      expect(client).toEqual({ ok: false, reply: "timeout" });

      await cp!.start();
      policy = await cp!.client.policies.update.mutate({
        id: policy!.id,
        version: policy!.version,
        spec: dbAllows(["web", "client"]),
      });
      await until(
        "client-1 allowed after the API came back",
        async () => (await tcpConnect(pod("client-1").netns, db, 5433, 800)).ok,
        45_000,
      );
      expect((await tcpConnect(pod("web-1").netns, db, 5433)).ok).toBe(true);
    }, 90_000);
  },
);
