// Policy on real traffic: two nodes joined to a real control plane, policy written through the
// API's tRPC surface, enforced by the eBPF datapath on every pod's host veth. Needs root and
// PostgreSQL (`npm test`, or DATABASE_URL); skipped otherwise.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { AGENT_BIN } from "@meridian/node-agent/cni/invoke";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import {
  type ControlPlane,
  dropCounters,
  kernelPolicy,
  LAB_PARTS,
  recentFlows,
  startControlPlane,
  until,
} from "./control-plane-harness";
import type { LabTopology } from "./topology";
import { startEchoServer, startStream, startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabp${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "p-n1", podCIDRs: ["10.244.21.0/24", "fd00:10:244:21::/64"] },
    { name: "p-n2", podCIDRs: ["10.244.22.0/24", "fd00:10:244:22::/64"] },
  ],
  pods: [
    { node: "p-n1", name: "web-1", namespace: "shop", labels: { app: "web" } },
    { node: "p-n1", name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: "p-n2", name: "db-1", namespace: "shop", labels: { app: "db" } },
    { node: "p-n2", name: "web-2", namespace: "shop", labels: { app: "web" } },
  ],
};
const DB_ALLOWS_WEB = {
  endpointSelector: { matchLabels: { app: "db" } },
  ingress: [
    {
      fromEndpoints: [{ matchLabels: { app: "web" } }],
      toPorts: [{ ports: [{ port: "5432", protocol: "TCP" as const }] }],
    },
  ],
};
const WEB_ONLY_TO_DB = {
  endpointSelector: { matchLabels: { app: "web" } },
  egress: [
    {
      toEndpoints: [{ matchLabels: { app: "db" } }],
      toPorts: [{ ports: [{ port: "5432", protocol: "TCP" as const }] }],
    },
  ],
};
const BLOCKED_MS = 1_500;

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
const servers: TcpServer[] = [];
let created: { id: string; version: number }[] = [];

const pod = (name: string) => lab!.pods.get(name)!;
const connect = (from: string, to: string, port: number, v6 = false, timeoutMs = 3_000) =>
  tcpConnect(pod(from).netns, v6 ? pod(to).ipv6! : pod(to).ipv4!, port, timeoutMs);

function agentLogs(): string {
  return [...lab!.nodes.values()]
    .map((n) => `--- ${n.name}\n${readFileSync(n.logFile, "utf8").slice(-2500)}`)
    .join("\n");
}

describe.skipIf(needs("policy enforced by the eBPF datapath on real traffic", LAB_PARTS).skip)(
  "policy enforced by the eBPF datapath on real traffic",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, {
        prefix,
        controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
        routesFromControlPlane: true,
      });
      for (const [name, ports] of [
        ["db-1", [5432, 8080]],
        ["web-1", [5432]],
        ["client-1", [5432]],
      ] as const) {
        for (const port of ports) servers.push(await startTcpServer(pod(name).netns, port, name));
      }
      // Every pod has its identity from the control plane in its node's maps.
      for (const p of topology.pods) {
        await until(
          `${p.name} has its identity in the kernel`,
          async () => ((await kernelPolicy(lab!, p.name)).endpoint?.identity ?? 5) !== 5,
          30_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${agentLogs()}`);
        });
      }
    }, 300_000);

    afterAll(async () => {
      for (const s of servers) await s.stop().catch(() => undefined);
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix);
      await cp?.close();
    }, 60_000);

    it("runs the eBPF datapath, and routes between nodes come from the control plane", async () => {
      for (const n of topology.nodes) {
        const s = JSON.parse(await lab!.agentCli(n.name, ["status", "--json"])) as {
          datapath: { name: string; enforcing: boolean };
          peerRoutes: { dst: string }[];
        };
        expect(s.datapath.enforcing).toBe(true);
        expect(s.datapath.name).toContain(`/sys/fs/bpf/${prefix}${n.name}`);
        // The agents' configuration has no peers: these came from the desired state.
        const other = topology.nodes.find((o) => o.name !== n.name)!;
        expect(s.peerRoutes.map((r) => r.dst).sort()).toEqual([...other.podCIDRs].sort());
      }
      expect((await kernelPolicy(lab!, "db-1")).attached).toEqual(["from_pod", "to_pod"]);
    });

    it("with no policy every pod connects to every other, across nodes and on one node", async () => {
      const results = await Promise.all([
        connect("web-1", "db-1", 5432),
        connect("web-1", "db-1", 8080),
        connect("web-1", "db-1", 5432, true),
        connect("client-1", "db-1", 5432),
        connect("web-2", "db-1", 5432),
        connect("db-1", "web-1", 5432),
        connect("web-1", "client-1", 5432),
      ]);
      expect(results.map((r) => r.ok)).toEqual(results.map(() => true));
    });

    it("a policy created through the API allows web → db on TCP 5432 only, in both directions of enforcement", async () => {
      created = [
        await cp!.client.policies.create.mutate({
          namespace: "shop",
          name: "db-allows-web",
          spec: DB_ALLOWS_WEB,
        }),
        await cp!.client.policies.create.mutate({
          namespace: "shop",
          name: "web-only-to-db",
          spec: WEB_ONLY_TO_DB,
        }),
      ];
      await until("db-1's ingress policy in the kernel", async () => {
        const k = await kernelPolicy(lab!, "db-1");
        return (
          k.endpoint?.ingressEnforced && k.entries.some((e) => e.portLow === 5432 && e.verdict === "allow")
        );
      });
      await until("web-1's egress policy in the kernel", async () => {
        const k = await kernelPolicy(lab!, "web-1");
        return (
          k.endpoint?.egressEnforced && k.entries.some((e) => e.direction === "egress" && e.portLow === 5432)
        );
      });
      await until(
        "web-2's egress policy in the kernel",
        async () => (await kernelPolicy(lab!, "web-2")).endpoint?.egressEnforced,
      );

      const before = {
        n1: await dropCounters(lab!, "p-n1"),
        n2: await dropCounters(lab!, "p-n2"),
        n1Flows: (await recentFlows(lab!, "p-n1")).length,
        n2Flows: (await recentFlows(lab!, "p-n2")).length,
      };
      const [allowed, allowed6, sameNode, otherPort, otherPod, webToClient, dbToWeb] = await Promise.all([
        connect("web-1", "db-1", 5432),
        connect("web-1", "db-1", 5432, true),
        connect("web-2", "db-1", 5432),
        connect("web-1", "db-1", 8080, false, BLOCKED_MS),
        connect("client-1", "db-1", 5432, false, BLOCKED_MS),
        connect("web-1", "client-1", 5432, false, BLOCKED_MS),
        // db's egress and web's ingress are not policed: the reverse direction still opens.
        connect("db-1", "web-1", 5432),
      ]);
      expect(allowed).toEqual({ ok: true, reply: `db-1 ${pod("web-1").ipv4}` });
      expect(allowed6.ok).toBe(true);
      expect(sameNode).toEqual({ ok: true, reply: `db-1 ${pod("web-2").ipv4}` });
      expect(otherPort).toEqual({ ok: false, reply: "timeout" }); // web's egress (node 1)
      expect(otherPod).toEqual({ ok: false, reply: "timeout" }); // db's ingress (node 2)
      expect(webToClient).toEqual({ ok: false, reply: "timeout" }); // web's egress, same node
      expect(dbToWeb.ok).toBe(true);

      // Counters and flow events tell the same story as the connections.
      const after = { n1: await dropCounters(lab!, "p-n1"), n2: await dropCounters(lab!, "p-n2") };
      const delta = (node: "n1" | "n2", key: string) =>
        (after[node].get(key) ?? 0) - (before[node].get(key) ?? 0);
      const n1Flows = (await recentFlows(lab!, "p-n1")).slice(before.n1Flows);
      const n2Flows = (await recentFlows(lab!, "p-n2")).slice(before.n2Flows);
      // Each drop is a default deny naming the policy whose selection put the pod under enforcement
      // in that direction: web-only-to-db for web-1's egress, db-allows-web for db-1's ingress.
      const drops = (
        flows: typeof n1Flows,
        src: string,
        dst: string,
        dport: number,
        direction: string,
        policy: string,
      ) => {
        const mine = flows.filter(
          (f) => f.verdict === "dropped" && f.src === src && f.dst === dst && f.dport === dport,
        );
        for (const f of mine)
          expect(f).toMatchObject({
            direction,
            reason: "policy_default",
            ruleId: "default-deny",
            policies: [policy],
          });
        return mine.length;
      };
      const n1Egress = drops(
        n1Flows,
        pod("web-1").ipv4!,
        pod("db-1").ipv4!,
        8080,
        "egress",
        "shop/web-only-to-db",
      );
      const n1ToClient = drops(
        n1Flows,
        pod("web-1").ipv4!,
        pod("client-1").ipv4!,
        5432,
        "egress",
        "shop/web-only-to-db",
      );
      const n2Ingress = drops(
        n2Flows,
        pod("client-1").ipv4!,
        pod("db-1").ipv4!,
        5432,
        "ingress",
        "shop/db-allows-web",
      );
      expect(n1Egress).toBeGreaterThanOrEqual(1); // the SYN, and its retransmissions
      expect(n1ToClient).toBeGreaterThanOrEqual(1);
      expect(n2Ingress).toBeGreaterThanOrEqual(1);
      expect(delta("n1", "policy_default/egress")).toBe(n1Egress + n1ToClient);
      expect(delta("n2", "policy_default/ingress")).toBe(n2Ingress);
      // Nothing else was dropped, and nothing dropped what was allowed.
      expect(delta("n1", "policy_default/ingress")).toBe(0);
      expect(delta("n2", "policy_default/egress")).toBe(0);
      expect(
        n2Flows.filter((f) => f.verdict === "dropped" && f.dport === 5432 && f.src === pod("web-1").ipv4),
      ).toEqual([]);
      // The allowed connection's verdict names the rule that allowed it.
      expect(
        n2Flows.some(
          (f) =>
            f.verdict === "forwarded" &&
            f.src === pod("web-1").ipv4 &&
            f.dport === 5432 &&
            f.direction === "ingress" &&
            f.ruleId?.startsWith("shop/db-allows-web/ingress"),
        ),
      ).toBe(true);
    });

    it("a NEW pod's first packet meets its policy: CNI ADD returns only once it is in the datapath", async () => {
      // The policies of the previous test are in place. No server listens in the new pod yet, so a
      // SYN the datapath lets through is answered with a RST (ECONNREFUSED) and a dropped one times
      // out: the very first attempts, right after ADD returned, tell which policy governed them.
      const added = Date.now();
      await lab!.addPod({ node: "p-n2", name: "db-2", namespace: "shop", labels: { app: "db" } });
      const addMs = Date.now() - added;
      try {
        const [fromClient, fromWeb] = await Promise.all([
          connect("client-1", "db-2", 5432, false, BLOCKED_MS),
          connect("web-2", "db-2", 5432, false, BLOCKED_MS),
        ]);
        expect(fromClient, `ADD took ${addMs} ms`).toEqual({ ok: false, reply: "timeout" });
        expect(fromWeb, `ADD took ${addMs} ms`).toEqual({ ok: false, reply: "ECONNREFUSED" });
        const k = await kernelPolicy(lab!, "db-2");
        expect(k.endpoint?.identity).not.toBe(5);
        expect(k.endpoint?.ingressEnforced).toBe(true);
        // With a server, web gets through on 5432 at once.
        const server = await startTcpServer(pod("db-2").netns, 5432, "db-2");
        try {
          expect(await connect("web-2", "db-2", 5432)).toEqual({
            ok: true,
            reply: `db-2 ${pod("web-2").ipv4}`,
          });
        } finally {
          await server.stop();
        }
      } finally {
        await lab!.removePod("db-2");
      }
    });

    it("the agents summarise those flows to the control plane", async () => {
      const rows = await until("dropped flow summaries in the API's database", async () => {
        const all = await cp!.h.db.flowSummary.findMany({});
        const data = all.map(
          (r) =>
            r.data as {
              source: string;
              destination: string;
              port?: number;
              verdict: string;
              packets: number;
            },
        );
        return data.some(
          (d) => d.verdict === "dropped" && d.destination === pod("db-1").ipv4 && d.port === 8080,
        ) && data.some((d) => d.verdict === "dropped" && d.source === pod("client-1").ipv4 && d.port === 5432)
          ? data
          : undefined;
      });
      expect(
        rows.some((d) => d.verdict === "forwarded" && d.destination === pod("db-1").ipv4 && d.port === 5432),
      ).toBe(true);
      // The control plane's query finds them by what decided.
      const from = new Date(Date.now() - 3_600_000);
      const denied = await cp!.client.flows.query.query({
        from,
        ruleId: "default-deny",
        ip: pod("client-1").ipv4!,
        endpoint: "shop/db-1",
      });
      expect(denied.items.length).toBeGreaterThanOrEqual(1);
      for (const r of denied.items)
        expect(r).toMatchObject({
          verdict: "dropped",
          direction: "ingress",
          policies: ["shop/db-allows-web"],
        });
      const allowed = await cp!.client.flows.query.query({
        from,
        verdict: "forwarded",
        policy: "shop/db-allows-web",
      });
      expect(
        allowed.items.some((r) => r.ruleId?.startsWith("shop/db-allows-web/ingress") && r.port === 5432),
      ).toBe(true);
    });

    it("`meridian-agent policy` shows the kernel's entries next to the desired ones", async () => {
      const text = await lab!.agentCli("p-n2", ["policy", "shop/db-1"]);
      expect(text).toMatch(
        /^kernel {4}ep \d+, identity \d+, ingress enforced, egress open; programs from_pod, to_pod/m,
      );
      expect(text).toMatch(/ingress\s+\d+\s+6\s+5432\s+allow\s+shop\/db-allows-web\/ingress\[0\]\s+yes/);
      expect(text).toContain("in sync  every desired entry is in the kernel");
    });

    it("`meridian-agent flows --follow` streams a drop as it happens", async () => {
      const n1 = lab!.nodes.get("p-n1")!;
      const cli = spawn(
        "ip",
        [
          "netns",
          "exec",
          n1.netns,
          process.execPath,
          AGENT_BIN,
          "flows",
          "--follow",
          "--json",
          "--socket",
          n1.socket,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      try {
        const lines: string[] = [];
        let buf = "";
        cli.stdout.on("data", (d: Buffer) => {
          buf += d.toString();
          const parts = buf.split("\n");
          buf = parts.pop() ?? "";
          lines.push(...parts.filter(Boolean));
        });
        const wanted = (l: string) => {
          const f = JSON.parse(l) as { verdict: string; dst: string; dport?: number; reason?: string };
          return (
            f.verdict === "dropped" &&
            f.dst === pod("db-1").ipv4 &&
            f.dport === 8081 &&
            f.reason === "policy_default"
          );
        };
        // The CLI starts (tsx) in its own time: keep knocking until its stream shows the drop.
        await until(
          "a streamed drop",
          async () => {
            await tcpConnect(pod("web-1").netns, pod("db-1").ipv4!, 8081, 300);
            return lines.some(wanted);
          },
          30_000,
        );
      } finally {
        cli.kill("SIGINT");
      }
    });

    it("deleting the policy restores connectivity", async () => {
      for (const p of created) await cp!.client.policies.delete.mutate({ id: p.id, version: p.version });
      for (const name of ["db-1", "web-1", "web-2"]) {
        await until(`${name}'s policy removed from the kernel`, async () => {
          const k = await kernelPolicy(lab!, name);
          return (
            k.endpoint && !k.endpoint.ingressEnforced && !k.endpoint.egressEnforced && k.entries.length === 0
          );
        });
      }
      const results = await Promise.all([
        connect("web-1", "db-1", 8080),
        connect("client-1", "db-1", 5432),
        connect("web-1", "client-1", 5432),
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    });
    it("a policy change stops an established connection it no longer allows; deleting the policy lets the same connection carry on", async () => {
      const echo = await startEchoServer(pod("db-1").netns, 7000);
      servers.push(echo);
      const stream = await startStream(pod("client-1").netns, pod("db-1").ipv4!, 7000);
      let stopped = false;
      try {
        await new Promise((r) => setTimeout(r, 1_000));
        const flowsBefore = (await recentFlows(lab!, "p-n2")).length;
        const policy = await cp!.client.policies.create.mutate({
          namespace: "shop",
          name: "db-allows-web-again",
          spec: DB_ALLOWS_WEB,
        });
        await until("db-1's ingress policy in the kernel", async () => {
          const k = await kernelPolicy(lab!, "db-1");
          return k.endpoint?.ingressEnforced && k.entries.some((e) => e.portLow === 5432);
        });
        // The stream's conntrack entry was revoked: its next packets meet the policy and are dropped.
        const dropped = await until("a drop of the established stream", async () => {
          const d = (await recentFlows(lab!, "p-n2"))
            .slice(flowsBefore)
            .filter((f) => f.verdict === "dropped" && f.dport === 7000 && f.src === pod("client-1").ipv4);
          return d.length > 0 ? d : undefined;
        });
        expect(dropped[0]).toMatchObject({ reason: "policy_default", direction: "ingress" });

        await cp!.client.policies.delete.mutate({ id: policy.id, version: policy.version });
        await until("db-1's policy removed from the kernel", async () => {
          const k = await kernelPolicy(lab!, "db-1");
          return k.endpoint && !k.endpoint.ingressEnforced;
        });
        // TCP retransmits with back-off; give it time to get everything through on the same connection.
        await new Promise((r) => setTimeout(r, 5_000));
        const result = await stream.stop();
        stopped = true;
        expect(result.error).toBeNull();
        expect(result.received).toBe(result.sent);
        expect(result.outOfOrder).toBe(0);
      } finally {
        if (!stopped) await stream.stop().catch(() => undefined);
      }
    });
  },
);
