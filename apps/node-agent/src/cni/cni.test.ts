// CNI conformance against a real agent in a real node namespace, invoked as a runtime
// would (fresh process, CNI_* env, config on stdin). Needs root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callAgent } from "../agent/local-client.js";
import type { AgentStatusView, EndpointView } from "../agent/protocol.js";
import { type AgentProcess, Scratch, sh } from "../testing/netns.js";
import { waitFor } from "../testing/wait.js";
import { type CniInvocation, invokeCni } from "./invoke.js";

const scratch = new Scratch("cni");
let node: { name: string; path: string };
let agent: AgentProcess;
let config: Record<string, unknown>;

function cni(inv: Omit<CniInvocation, "nodeNetns" | "config"> & { config?: unknown }) {
  return invokeCni({ nodeNetns: node.name, config, ifname: "eth0", ...inv });
}
function podAddrs(podNs: string): string[] {
  const links = JSON.parse(sh("ip", ["-n", podNs, "-json", "addr", "show", "dev", "eth0"])) as {
    addr_info: { local: string; scope: string }[];
  }[];
  return links[0]!.addr_info.filter((a) => a.scope === "global").map((a) => a.local);
}
async function status(): Promise<AgentStatusView> {
  return (await callAgent(agent.socket, "GET", "/v1/status")).body as AgentStatusView;
}

beforeAll(async () => {
  node = scratch.netns("node");
  agent = await scratch.startAgent(node.name, [
    "--node-name",
    "n1",
    "--pod-cidr",
    "10.244.7.0/24",
    "--pod-cidr",
    "fd00:10:244:7::/64",
    "--http-address",
    "127.0.0.1:9962",
  ]);
  config = { cniVersion: "1.0.0", name: "meridian", type: "meridian-cni", agentSocket: agent.socket };
});

afterAll(async () => {
  await scratch.cleanup();
});

describe("meridian-cni", () => {
  it("VERSION lists the supported spec versions", async () => {
    const r = await cni({ command: "VERSION", config: { cniVersion: "1.0.0" } });
    expect(r.exitCode).toBe(0);
    expect(r.json?.supportedVersions).toEqual(expect.arrayContaining(["0.4.0", "1.0.0", "1.1.0"]));
    expect(r.json?.cniVersion).toBe("1.0.0");
  });

  it("ADD plumbs the pod, CHECK passes, DEL removes it and frees its addresses", async () => {
    const pod = scratch.netns("pod-a");
    const add = await cni({
      command: "ADD",
      containerId: "ctr-a",
      netns: pod.path,
      args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;MERIDIAN_LABELS=app=web,tier=front",
    });
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    const ips = (add.json!.ips as { address: string; gateway: string }[]).map((i) => i.address);
    expect(ips).toHaveLength(2);
    expect(ips[0]).toMatch(/^10\.244\.7\.\d+\/32$/);
    expect(ips[1]).toMatch(/^fd00:10:244:7::[0-9a-f]+\/128$/);
    // What the runtime was told is what the kernel has.
    expect(podAddrs(pod.name).sort()).toEqual(ips.map((i) => i.split("/")[0]).sort());
    const routes = sh("ip", ["-n", pod.name, "route", "show", "default"]);
    expect(routes).toContain("default via 169.254.1.1 dev eth0");
    expect(sh("ip", ["-n", pod.name, "-6", "route", "show", "default"])).toContain(
      "default via fe80::1 dev eth0",
    );
    const host = (add.json!.interfaces as { name: string; sandbox?: string }[])[0]!.name;
    expect(host).toMatch(/^mrd[0-9a-f]{11}$/);
    expect(sh("ip", ["-n", node.name, "route", "show", ips[0]!.split("/")[0]!])).toContain(`dev ${host}`);

    // The endpoint is registered with its pod identity and labels.
    const eps = (await callAgent(agent.socket, "GET", "/v1/endpoints")).body as EndpointView[];
    const ep = eps.find((e) => e.containerId === "ctr-a")!;
    expect(ep).toMatchObject({ namespace: "shop", podName: "web-0", labels: { app: "web", tier: "front" } });

    const check = await cni({
      command: "CHECK",
      containerId: "ctr-a",
      netns: pod.path,
      config: { ...config, prevResult: add.json },
    });
    expect(check.exitCode, check.stdout).toBe(0);

    const del = await cni({ command: "DEL", containerId: "ctr-a", netns: pod.path });
    expect(del.exitCode, del.stdout).toBe(0);
    expect(sh("ip", ["-n", pod.name, "link", "show"])).not.toContain("eth0");
    expect(sh("ip", ["-n", node.name, "link", "show"])).not.toContain(host);
    expect((await status()).ipam.every((p) => p.used === 0)).toBe(true);

    // DEL again: still success (idempotent).
    const again = await cni({ command: "DEL", containerId: "ctr-a", netns: pod.path });
    expect(again.exitCode, again.stdout).toBe(0);
  });

  it("ADD twice for the same container answers with the same addresses", async () => {
    const pod = scratch.netns("pod-twice");
    const first = await cni({ command: "ADD", containerId: "ctr-twice", netns: pod.path });
    const second = await cni({ command: "ADD", containerId: "ctr-twice", netns: pod.path });
    expect(second.exitCode, second.stdout).toBe(0);
    expect(second.json!.ips).toEqual(first.json!.ips);
    await cni({ command: "DEL", containerId: "ctr-twice", netns: pod.path });
  });

  it("DEL of a container the agent never saw succeeds, with or without CNI_NETNS", async () => {
    const a = await cni({
      command: "DEL",
      containerId: "never-seen",
      netns: "/var/run/netns/does-not-exist",
    });
    expect(a.exitCode, a.stdout).toBe(0);
    const b = await cni({ command: "DEL", containerId: "never-seen-2" });
    expect(b.exitCode, b.stdout).toBe(0);
  });

  it("CHECK fails, naming the interface, after eth0 is removed by hand", async () => {
    const pod = scratch.netns("pod-check");
    const add = await cni({ command: "ADD", containerId: "ctr-check", netns: pod.path });
    expect(add.exitCode).toBe(0);
    sh("ip", ["-n", pod.name, "link", "del", "eth0"]);
    const check = await cni({ command: "CHECK", containerId: "ctr-check", netns: pod.path });
    expect(check.exitCode).not.toBe(0);
    expect(check.json?.code).toBe(100);
    expect(check.json?.msg).toMatch(/interface eth0 is missing/);
    // And DEL still cleans up what is left (host side, address).
    expect((await cni({ command: "DEL", containerId: "ctr-check", netns: pod.path })).exitCode).toBe(0);
    expect((await status()).endpoints).toBe(0);
  });

  it("CHECK of an unknown container is error 3", async () => {
    const pod = scratch.netns("pod-unknown");
    const r = await cni({ command: "CHECK", containerId: "ghost", netns: pod.path });
    expect(r.json).toMatchObject({ code: 3 });
    expect(r.json?.msg).toMatch(/no endpoint for container ghost/);
  });

  it("concurrent ADDs get distinct addresses; concurrent DELs free every one", async () => {
    const n = 6;
    const pods = Array.from({ length: n }, (_, i) => scratch.netns(`pod-c${i}`));
    const adds = await Promise.all(
      pods.map((p, i) => cni({ command: "ADD", containerId: `ctr-c${i}`, netns: p.path })),
    );
    for (const a of adds) expect(a.exitCode, a.stdout).toBe(0);
    const v4 = adds.map((a) => (a.json!.ips as { address: string }[])[0]!.address);
    const v6 = adds.map((a) => (a.json!.ips as { address: string }[])[1]!.address);
    expect(new Set(v4).size).toBe(n);
    expect(new Set(v6).size).toBe(n);
    expect((await status()).ipam.map((p) => p.used)).toEqual([n, n]);
    const dels = await Promise.all(
      pods.map((p, i) => cni({ command: "DEL", containerId: `ctr-c${i}`, netns: p.path })),
    );
    for (const d of dels) expect(d.exitCode, d.stdout).toBe(0);
    const s = await status();
    expect(s.ipam.map((p) => p.used)).toEqual([0, 0]);
    expect(s.endpoints).toBe(0);
    expect(sh("ip", ["-n", node.name, "-o", "link", "show"])).not.toMatch(/mrd[0-9a-f]{11}/);
  }, 90_000);

  it("rejects bad input with the spec's codes and a message naming the problem", async () => {
    const pod = scratch.netns("pod-bad");
    const base = { command: "ADD" as const, containerId: "ctr-bad", netns: pod.path };
    const notJson = await cni({ ...base, config: "{ this is not json" });
    expect(notJson.exitCode).not.toBe(0);
    expect(notJson.json).toMatchObject({ code: 6 });
    expect(notJson.json?.msg).toMatch(/not JSON/);

    const noName = await cni({ ...base, config: { cniVersion: "1.0.0", type: "meridian-cni" } });
    expect(noName.json).toMatchObject({ code: 7 });
    expect(noName.json?.msg).toMatch(/name/);

    const oldVersion = await cni({ ...base, config: { ...config, cniVersion: "0.1.0" } });
    expect(oldVersion.json).toMatchObject({ code: 1 });
    expect(oldVersion.json?.msg).toMatch(/0\.1\.0/);

    const noNetns = await cni({ command: "ADD", containerId: "ctr-bad" });
    expect(noNetns.json).toMatchObject({ code: 4 });
    expect(noNetns.json?.msg).toMatch(/CNI_NETNS/);

    const badId = await cni({ ...base, containerId: "../etc" });
    expect(badId.json).toMatchObject({ code: 4 });
    expect(badId.json?.msg).toMatch(/CNI_CONTAINERID/);

    const badLabels = await cni({ ...base, args: "MERIDIAN_LABELS=novalue" });
    expect(badLabels.json).toMatchObject({ code: 4 });
    expect(badLabels.json?.msg).toMatch(/MERIDIAN_LABELS/);

    const goneNetns = await cni({ ...base, netns: "/var/run/netns/mrd-no-such-ns" });
    expect(goneNetns.json).toMatchObject({ code: 4 });
    expect(goneNetns.json?.msg).toMatch(/does not exist/);
    // None of that leaked an address.
    expect((await status()).ipam.map((p) => p.used)).toEqual([0, 0]);
  });

  it("a failed ADD rolls back: no host interface and no address left behind", async () => {
    const pod = scratch.netns("pod-taken");
    // The runtime's interface name is already in use inside the pod.
    sh("ip", ["-n", pod.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    const r = await cni({ command: "ADD", containerId: "ctr-taken", netns: pod.path });
    expect(r.exitCode).not.toBe(0);
    expect(r.json?.msg).toMatch(/eth0 already exists/);
    expect((await status()).ipam.map((p) => p.used)).toEqual([0, 0]);
    expect(sh("ip", ["-n", node.name, "-o", "link", "show"])).not.toMatch(/mrd[0-9a-f]{11}/);
  });

  it("malformed requests on the agent socket get 400s and the agent keeps serving", async () => {
    const garbage = await callAgent(agent.socket, "POST", "/v1/cni", "not an object");
    expect(garbage.status).toBe(400);
    expect(JSON.stringify(garbage.body)).toMatch(/expected object/);
    const wrongCommand = await callAgent(agent.socket, "POST", "/v1/cni", { command: "EXPLODE" });
    expect(wrongCommand.status).toBe(400);
    expect(JSON.stringify(wrongCommand.body)).toMatch(/command/);
    expect((await callAgent(agent.socket, "GET", "/healthz")).status).toBe(200);
  });

  it("STATUS is ok with the agent up and code 50 without it; ADD without agent is 11", async () => {
    expect((await cni({ command: "STATUS" })).exitCode).toBe(0);
    const away = { ...config, agentSocket: `${scratch.dir}/nobody.sock` };
    const st = await cni({ command: "STATUS", config: away });
    expect(st.json).toMatchObject({ code: 50 });
    const pod = scratch.netns("pod-away");
    const add = await cni({ command: "ADD", containerId: "ctr-away", netns: pod.path, config: away });
    expect(add.json).toMatchObject({ code: 11 });
    expect(add.json?.msg).toMatch(/cannot reach the meridian agent/);
  });

  it("the agent answers /healthz and /metrics on its HTTP address", async () => {
    const health = sh("ip", ["netns", "exec", node.name, "curl", "-sS", "http://127.0.0.1:9962/healthz"]);
    expect(health.trim()).toBe("ok");
    const metrics = sh("ip", ["netns", "exec", node.name, "curl", "-sS", "http://127.0.0.1:9962/metrics"]);
    expect(metrics).toMatch(/^meridian_endpoints \d+$/m);
    expect(metrics).toMatch(/^meridian_cni_requests_total\{command="ADD",result="ok"\} \d+$/m);
    expect(metrics).toContain("meridian_last_applied_revision 0");
    expect(metrics).toContain("meridian_sync_connected 0");
    // The TCP listener is read-only: CNI and CLI calls are refused there.
    const refused = sh("ip", [
      "netns",
      "exec",
      node.name,
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "http://127.0.0.1:9962/v1/endpoints",
    ]);
    expect(refused).toBe("404");
  });

  it("a restarted agent keeps its endpoints and never re-issues their addresses", async () => {
    const pod = scratch.netns("pod-restart");
    const add = await cni({ command: "ADD", containerId: "ctr-r", netns: pod.path });
    const held = (add.json!.ips as { address: string }[]).map((i) => i.address);
    await agent.stop();
    agent = await scratch.startAgent(node.name, [
      "--node-name",
      "n1",
      "--pod-cidr",
      "10.244.7.0/24",
      "--pod-cidr",
      "fd00:10:244:7::/64",
      "--http-address",
      "",
    ]);
    // Same socket path, new process.
    const eps = (await callAgent(agent.socket, "GET", "/v1/endpoints")).body as EndpointView[];
    expect(eps.map((e) => e.containerId)).toEqual(["ctr-r"]);
    const pod2 = scratch.netns("pod-restart2");
    const add2 = await cni({ command: "ADD", containerId: "ctr-r2", netns: pod2.path });
    const ips2 = (add2.json!.ips as { address: string }[]).map((i) => i.address);
    for (const ip of ips2) expect(held).not.toContain(ip);
    expect((await cni({ command: "CHECK", containerId: "ctr-r", netns: pod.path })).exitCode).toBe(0);
    for (const id of ["ctr-r", "ctr-r2"])
      expect((await cni({ command: "DEL", containerId: id })).exitCode).toBe(0);
  });
  it("a pod whose namespace vanished while the agent was down is collected when it starts: endpoint gone, addresses free", async () => {
    const keep = scratch.netns("pod-gc-keep");
    const lost = scratch.netns("pod-gc-lost");
    expect((await cni({ command: "ADD", containerId: "ctr-keep", netns: keep.path })).exitCode).toBe(0);
    const add = await cni({ command: "ADD", containerId: "ctr-lost", netns: lost.path });
    const lostIps = (add.json!.ips as { address: string }[]).map((i) => i.address.split("/")[0]!);
    const lostHost = (add.json!.interfaces as { name: string }[])[0]!.name;
    await agent.stop();
    // The runtime deletes the pod's namespace and no DEL reaches us: the veth pair dies with it.
    sh("ip", ["netns", "del", lost.name]);
    agent = await scratch.startAgent(node.name, [
      "--node-name",
      "n1",
      "--pod-cidr",
      "10.244.7.0/24",
      "--pod-cidr",
      "fd00:10:244:7::/64",
      "--http-address",
      "",
    ]);
    const deadline = Date.now() + 15_000;
    let eps: EndpointView[] = [];
    while (Date.now() < deadline) {
      eps = (await callAgent(agent.socket, "GET", "/v1/endpoints")).body as EndpointView[];
      if (!eps.some((e) => e.containerId === "ctr-lost")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(eps.map((e) => e.containerId)).toContain("ctr-keep");
    expect(eps.map((e) => e.containerId)).not.toContain("ctr-lost");
    expect(sh("ip", ["-n", node.name, "link", "show"])).not.toContain(lostHost);
    expect(sh("ip", ["-n", node.name, "route", "show"])).not.toContain(`${lostIps[0]} `);
    // The log line follows the removal (the agent's output arrives through a pipe): wait for it.
    await waitFor("the collection logged", () => agent.logs().includes("its host interface is gone"), 5_000);
    // Its addresses are free again: IPAM holds exactly the kept pod's two.
    expect((await status()).ipam.reduce((n, p) => n + p.used, 0)).toBe(2);
    expect((await cni({ command: "CHECK", containerId: "ctr-keep", netns: keep.path })).exitCode).toBe(0);
  });

  it("GC (CNI 1.1) deletes every endpoint the runtime no longer lists and keeps the rest", async () => {
    const stale = scratch.netns("pod-gc-stale");
    const gcConfig = { ...config, cniVersion: "1.1.0" };
    expect((await cni({ command: "ADD", containerId: "ctr-stale", netns: stale.path })).exitCode).toBe(0);
    const missing = await cni({ command: "GC", config: gcConfig });
    expect(missing.exitCode).toBe(1);
    expect(missing.json).toMatchObject({
      code: 7,
      msg: expect.stringContaining("cni.dev/valid-attachments"),
    });

    const gc = await cni({
      command: "GC",
      config: { ...gcConfig, "cni.dev/valid-attachments": [{ containerID: "ctr-keep", ifname: "eth0" }] },
    });
    expect(gc.exitCode, gc.stdout).toBe(0);
    const eps = (await callAgent(agent.socket, "GET", "/v1/endpoints")).body as EndpointView[];
    expect(eps.map((e) => e.containerId)).toEqual(["ctr-keep"]);
    expect(sh("ip", ["-n", stale.name, "link", "show"])).not.toContain("eth0");
    expect((await status()).ipam.reduce((n, p) => n + p.used, 0)).toBe(2);
    expect((await cni({ command: "DEL", containerId: "ctr-keep" })).exitCode).toBe(0);
    expect((await status()).ipam.every((p) => p.used === 0)).toBe(true);
  });
});
