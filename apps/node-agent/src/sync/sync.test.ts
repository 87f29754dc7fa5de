// The agent against the real control plane: a real API server on a real PostgreSQL, the
// agent as a real process inside a node namespace. The node namespace reaches the API
// through a relay over a unix socket (filesystem, not network), so nothing is added to
// the host's network. Needs root and PostgreSQL (`npm test` provides one).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callAgent } from "../agent/local-client.js";
import type { AgentStatusView } from "../agent/protocol.js";
import { AGENT_BIN, invokeCni } from "../cni/invoke.js";
import { type AgentProcess, Scratch } from "../testing/netns.js";
import { waitFor } from "../testing/wait.js";

const realParts = needs("agent ↔ control plane", [parts.root, parts.database]);

// Loaded lazily so that without a database this file is skipped, not broken.
type Harness = Awaited<ReturnType<typeof import("@meridian/api/testing")["createHarness"]>>;
type Server = Awaited<ReturnType<typeof import("@meridian/api/server")["startServer"]>>;

// Created in beforeAll: a skipped suite must not leave a temp dir behind.
let scratch: Scratch;
let h: Harness;
let api: Server;
let node: { name: string; path: string };
let agent: AgentProcess;
let hostRelay: net.Server;
let relayOpen = true;
const RELAY_PORT = 18080;

/** host side: unix socket → API's TCP port (refuses while "the control plane is down"). */
function startHostRelay(sock: string, port: number): Promise<net.Server> {
  const conns = new Set<net.Socket>();
  const s = net.createServer((c) => {
    if (!relayOpen) return c.destroy();
    const up = net.connect(port, "127.0.0.1");
    conns.add(c);
    c.on("close", () => conns.delete(c));
    c.pipe(up).pipe(c);
    up.on("error", () => c.destroy());
    c.on("error", () => up.destroy());
  });
  (s as net.Server & { dropAll?: () => void }).dropAll = () => {
    for (const c of conns) c.destroy();
  };
  return new Promise((resolve) => s.listen(sock, () => resolve(s)));
}

/** node side: 127.0.0.1:RELAY_PORT inside the node namespace → the unix socket. */
function startNodeRelay(nodeNs: string, sock: string) {
  const script = `require("node:net").createServer((c)=>{const u=require("node:net").connect(${JSON.stringify(sock)});c.pipe(u).pipe(c);u.on("error",()=>c.destroy());c.on("error",()=>u.destroy());}).listen(${RELAY_PORT},"127.0.0.1",()=>console.log("ready"))`;
  const child = spawn("ip", ["netns", "exec", nodeNs, process.execPath, "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise<typeof child>((resolve) => child.stdout.once("data", () => resolve(child)));
}

async function metric(name: string): Promise<number | undefined> {
  const res = await callAgent(agent.socket, "GET", "/metrics");
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(String(res.body));
  return m ? Number(m[1]) : undefined;
}
async function status(): Promise<AgentStatusView> {
  return (await callAgent(agent.socket, "GET", "/v1/status")).body as AgentStatusView;
}

describe.skipIf(realParts.skip)("agent ↔ control plane", () => {
  let nodeRelay: Awaited<ReturnType<typeof startNodeRelay>>;
  let joinSecret: string;

  beforeAll(async () => {
    scratch = new Scratch("sync");
    const { createHarness } = await import("@meridian/api/testing");
    const { startServer } = await import("@meridian/api/server");
    h = await createHarness();
    api = await startServer({ db: h.db, changeFeed: h.feed });
    const port = Number(new URL(api.url).port);
    const sock = path.join(scratch.dir, "api.sock");
    hostRelay = await startHostRelay(sock, port);
    node = scratch.netns("node");
    nodeRelay = await startNodeRelay(node.name, sock);
    const admin = await h.as("admin");
    joinSecret = (await admin.joinTokens.create({ nodeName: "sync-n1" })).secret;
  }, 60_000);

  afterAll(async () => {
    nodeRelay?.kill("SIGKILL");
    await scratch?.cleanup();
    hostRelay?.close();
    await api?.close();
    await h?.close();
  }, 60_000);

  it("joins with the token, keeps the credential private, and applies the desired state", async () => {
    agent = await scratch.startAgent(node.name, [
      "--api",
      `http://127.0.0.1:${RELAY_PORT}`,
      "--join-token",
      joinSecret,
      "--node-name",
      "sync-n1",
      "--pod-cidr",
      "10.244.9.0/24",
      "--http-address",
      "",
    ]);
    const cred = statSync(path.join(agent.stateDir, "credential.json"));
    expect(cred.mode & 0o777).toBe(0o600);
    const row = await h.db.node.findUnique({ where: { name: "sync-n1" } });
    expect(row?.joinState).toBe("joined");
    await waitFor(
      "sync connected and a revision applied",
      async () =>
        (await metric("meridian_sync_connected")) === 1 &&
        ((await metric("meridian_last_applied_revision")) ?? 0) > 0,
    );
    const s = await status();
    expect(s.controlPlane.mode).toBe("connected");
    await waitFor("desired state persisted", () =>
      existsSync(path.join(agent.stateDir, "desired-state.json")),
    );
    // The API records what the agent reported.
    await waitFor("status reported", async () => {
      const n = await h.db.node.findUnique({ where: { name: "sync-n1" } });
      return n?.appliedRevision !== null && n?.appliedRevision !== undefined && n.appliedRevision > 0;
    });
  }, 90_000);

  it("reports a CNI-added pod to the control plane, which gives it an identity in the desired state", async () => {
    const pod = scratch.netns("pod-a");
    const add = await invokeCni({
      command: "ADD",
      nodeNetns: node.name,
      containerId: "sync-ctr-a",
      netns: pod.path,
      ifname: "eth0",
      args: "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;MERIDIAN_LABELS=app=web",
      config: { cniVersion: "1.0.0", name: "meridian", type: "meridian-cni", agentSocket: agent.socket },
    });
    expect(add.exitCode, add.stdout).toBe(0);
    // ADD answered only once the applied desired state held the pod: no waiting from here on.
    const res = await callAgent(agent.socket, "GET", "/v1/endpoints/shop%2Fweb-0/policy");
    const body = res.body as { desired: { identity?: number } | null };
    expect(body.desired?.identity).toBeGreaterThan(0);
    const ep = await h.db.endpoint.findFirst({ where: { namespace: "shop", name: "web-0" } });
    expect(ep?.ipv4).toMatch(/^10\.244\.9\./);
  }, 60_000);

  it("keeps running without the control plane and catches up when it returns", async () => {
    const before = await metric("meridian_last_applied_revision");
    relayOpen = false;
    (hostRelay as net.Server & { dropAll: () => void }).dropAll();
    await waitFor("disconnected", async () => (await metric("meridian_sync_connected")) === 0, 15_000);
    // Local service continues: CLI and CNI answer.
    expect((await callAgent(agent.socket, "GET", "/healthz")).status).toBe(200);
    // A change while the agent is away…
    const admin = await h.as("admin");
    const other = (await admin.joinTokens.create({ nodeName: "sync-n2" })).secret;
    const { createMeridianClient } = await import("@meridian/api/client");
    await createMeridianClient({ url: api.url }).agent.join.mutate({
      token: other,
      nodeName: "sync-n2",
      podCIDRs: ["10.244.10.0/24"],
    });
    relayOpen = true;
    // …is caught up after reconnecting (backoff is capped at 30 s; first retries are quick).
    await waitFor(
      "reconnected and caught up",
      async () =>
        (await metric("meridian_sync_connected")) === 1 &&
        ((await metric("meridian_last_applied_revision")) ?? 0) > (before ?? 0),
      40_000,
    );
  }, 60_000);

  it("restarts with the stored credential (no join token) and resumes", async () => {
    await agent.stop();
    agent = await scratch.startAgent(node.name, [
      "--api",
      `http://127.0.0.1:${RELAY_PORT}`,
      "--node-name",
      "sync-n1",
      "--pod-cidr",
      "10.244.9.0/24",
      "--http-address",
      "",
    ]);
    await waitFor("connected after restart", async () => (await metric("meridian_sync_connected")) === 1);
    // The persisted state was in force before the control plane answered.
    expect(agent.logs()).toContain("subscribing to desired state");
    expect(agent.logs()).toMatch(/"lastRevision":\d+/);
  }, 90_000);

  it("refuses a hand-edited desired state on disk at restart, and takes the control plane's when it answers", async () => {
    relayOpen = false;
    (hostRelay as net.Server & { dropAll: () => void }).dropAll();
    await agent.stop();
    const file = path.join(agent.stateDir, "desired-state.json");
    const stored = JSON.parse(readFileSync(file, "utf8"));
    // An address opened to the world by hand: the hash no longer matches, so none of it is enforced.
    stored.state.ipcache.push({ prefix: "198.51.100.0/24", identity: 2, source: "world" });
    writeFileSync(file, JSON.stringify(stored));
    agent = await scratch.startAgent(node.name, [
      "--api",
      `http://127.0.0.1:${RELAY_PORT}`,
      "--node-name",
      "sync-n1",
      "--pod-cidr",
      "10.244.9.0/24",
      "--http-address",
      "",
    ]);
    const refused = (await status()).controlPlane.rejected;
    expect(refused).toMatchObject({ revision: stored.revision, source: "disk" });
    expect(refused?.reason).toMatch(/^contentHash: the state hashes to /);
    const cli = spawnSync(process.execPath, [AGENT_BIN, "status", "--socket", agent.socket], {
      encoding: "utf8",
    });
    expect(cli.stdout).toMatch(/refused state\s+revision \d+ from disk: contentHash/);
    // Set aside for whoever looks into it, and not loaded again.
    expect(existsSync(`${file}.rejected`)).toBe(true);
    expect(existsSync(file)).toBe(false);

    // Started while the control plane was away, the agent connects once it is back (its first stream
    // attempt, held open by the relay without an answer, hung for good before the connect deadline
    // in the API client).
    relayOpen = true;
    await waitFor(
      "the control plane's state applied",
      async () => {
        const s = await status();
        return s.controlPlane.mode === "connected" && s.controlPlane.rejected === undefined;
      },
      40_000,
    );
    await waitFor("a good copy on disk again", () => existsSync(file));
    const again = JSON.parse(readFileSync(file, "utf8"));
    expect(again.state.ipcache.map((e: { prefix: string }) => e.prefix)).not.toContain("198.51.100.0/24");
  }, 90_000);
});
