// The lab on real namespaces: two nodes with real agents, pods added through meridian-cni,
// real TCP between pods across nodes over IPv4 and IPv6, and a teardown that leaves
// nothing behind. Needs root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, LabAlreadyUpError, labNamespaces, labPinDirs, run } from "./builder";
import type { LabTopology } from "./topology";
import { startEchoServer, startStream, startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabt${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "n1", podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"] },
    { name: "n2", podCIDRs: ["10.244.2.0/24", "fd00:10:244:2::/64"] },
  ],
  pods: [
    { node: "n1", name: "web-1", labels: { app: "web" } },
    { node: "n1", name: "web-2", labels: { app: "web" } },
    { node: "n2", name: "db-1", namespace: "shop", labels: { app: "db", tier: "data" } },
  ],
  router: true,
  externals: ["ext1"],
};

let lab: Lab | undefined;
const servers: TcpServer[] = [];

beforeAll(async () => {
  lab = await buildLab(topology, { prefix });
  for (const [name, pod] of lab.pods) servers.push(await startTcpServer(pod.netns, 5432, name));
  servers.push(await startTcpServer(lab.externals.get("ext1")!.netns, 8080, "ext1"));
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  await lab?.teardown();
  // Belt and braces: a failed build must not leave this file's namespaces behind either.
  const { teardownLab } = await import("./builder");
  await teardownLab(prefix);
}, 60_000);

function pod(name: string) {
  const p = lab!.pods.get(name);
  if (!p) throw new Error(`no pod ${name}`);
  return p;
}

describe("lab", () => {
  it("gives every pod an IPv4 and an IPv6 address from its node's PodCIDRs", () => {
    expect(pod("web-1").ipv4).toMatch(/^10\.244\.1\.\d+$/);
    expect(pod("web-1").ipv6).toMatch(/^fd00:10:244:1::/);
    expect(pod("db-1").ipv4).toMatch(/^10\.244\.2\.\d+$/);
    expect(pod("db-1").ipv6).toMatch(/^fd00:10:244:2::/);
  });

  it("connects pods across nodes over IPv4, both directions, and the server sees the pod's address", async () => {
    const there = await tcpConnect(pod("web-1").netns, pod("db-1").ipv4!, 5432);
    expect(there).toEqual({ ok: true, reply: `db-1 ${pod("web-1").ipv4}` });
    const back = await tcpConnect(pod("db-1").netns, pod("web-1").ipv4!, 5432);
    expect(back).toEqual({ ok: true, reply: `web-1 ${pod("db-1").ipv4}` });
  });

  it("connects pods across nodes over IPv6", async () => {
    const r = await tcpConnect(pod("db-1").netns, pod("web-2").ipv6!, 5432);
    expect(r).toEqual({ ok: true, reply: `web-2 ${pod("db-1").ipv6}` });
  });

  it("connects pods on the same node through the host", async () => {
    const r = await tcpConnect(pod("web-2").netns, pod("web-1").ipv4!, 5432);
    expect(r).toEqual({ ok: true, reply: `web-1 ${pod("web-2").ipv4}` });
  });

  it("reaches an external server with the pod's own source address", async () => {
    const ext = lab!.externals.get("ext1")!;
    const r = await tcpConnect(pod("db-1").netns, ext.ipv4, 8080);
    expect(r).toEqual({ ok: true, reply: `ext1 ${pod("db-1").ipv4}` });
  });

  it("a closed port is refused, not silently accepted", async () => {
    const r = await tcpConnect(pod("web-1").netns, pod("db-1").ipv4!, 5433);
    expect(r).toEqual({ ok: false, reply: "ECONNREFUSED" });
  });

  it("each agent routes the other node's PodCIDRs via that node's fabric address", async () => {
    const routes = await run("ip", ["-n", lab!.nodes.get("n1")!.netns, "route", "show", "proto", "77"]);
    expect(routes).toContain("10.244.2.0/24 via 10.99.0.2");
    const status = JSON.parse(await lab!.agentCli("n2", ["status", "--json"])) as {
      peerRoutes: { dst: string; via: string }[];
    };
    expect(status.peerRoutes).toEqual(
      expect.arrayContaining([
        { dst: "10.244.1.0/24", via: "10.99.0.1" },
        { dst: "fd00:10:244:1::/64", via: "fd99::1" },
      ]),
    );
  });

  it("the agent CLI lists each node's endpoints with their labels", async () => {
    const eps = JSON.parse(await lab!.agentCli("n2", ["endpoints", "--json"])) as {
      podName: string;
      namespace: string;
      labels: Record<string, string>;
    }[];
    expect(eps).toEqual([
      expect.objectContaining({ podName: "db-1", namespace: "shop", labels: { app: "db", tier: "data" } }),
    ]);
    const table = await lab!.agentCli("n1", ["endpoints"]);
    expect(table).toMatch(/^POD\s+CONTAINER/);
    expect(table).toContain("default/web-1");
    expect(table).toContain("app=web");
  });

  it("a removed pod is gone from its node and unreachable", async () => {
    const p = await lab!.addPod({ node: "n2", name: "tmp-1" });
    expect((await tcpConnect(pod("web-1").netns, p.ipv4!, 5432)).reply).toBe("ECONNREFUSED");
    await lab!.removePod("tmp-1");
    const eps = JSON.parse(await lab!.agentCli("n2", ["endpoints", "--json"])) as unknown[];
    expect(eps).toHaveLength(1);
    const gone = await tcpConnect(pod("web-1").netns, p.ipv4!, 5432, 500);
    expect(gone.ok).toBe(false);
  });

  it("an established stream loses nothing while an agent is SIGKILLed and restarted", async () => {
    const echo = await startEchoServer(pod("db-1").netns, 7000);
    servers.push(echo);
    const stream = await startStream(pod("web-1").netns, pod("db-1").ipv4!, 7000);
    await lab!.restartAgent("n1", "SIGKILL");
    await lab!.restartAgent("n2", "SIGKILL");
    // The restarted agent adopted its endpoints instead of rebuilding them.
    const eps = JSON.parse(await lab!.agentCli("n1", ["endpoints", "--json"])) as unknown[];
    expect(eps).toHaveLength(2);
    const r = await stream.stop();
    expect(r.error).toBeNull();
    expect(r.sent).toBeGreaterThan(10);
    expect(r.received).toBe(r.sent);
    expect(r.outOfOrder).toBe(0);
  });

  it("refuses to build over a lab that is still up, naming the command that removes it", async () => {
    await expect(buildLab(topology, { prefix })).rejects.toThrow(LabAlreadyUpError);
    await expect(buildLab(topology, { prefix })).rejects.toThrow(/npm run lab -- down --prefix mrdlabt/);
  });

  it("teardown leaves no namespace and no agent behind", async () => {
    for (const s of servers.splice(0)) await s.stop();
    const nodeNs = lab!.nodes.get("n1")!.netns;
    const pids = (await run("ip", ["netns", "pids", nodeNs])).trim().split(/\s+/).filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(0);
    expect(labPinDirs(prefix)).toHaveLength(2);
    await lab!.teardown();
    expect(await labNamespaces(prefix)).toEqual([]);
    expect(labPinDirs(prefix)).toEqual([]); // each node's pinned eBPF maps and links
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    lab = undefined;
  });
});
