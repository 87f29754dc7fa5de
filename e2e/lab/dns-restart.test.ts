// FQDN policy across agent restarts: the DNS proxy is its own process (features/dns/supervisor.ts),
// so two pods querying in a loop through it see every query answered — allowed names with their
// address, denied ones REFUSED — while the agent is SIGKILLed and restarted, and while it is
// upgraded (stopped with SIGTERM and started as another build, MERIDIAN_AGENT_BUILD). Addresses
// learned while no agent ran are in the datapath and taken over by the next agent. Then the
// cleanup: `meridian-agent stop` ends the proxy at once, and after a SIGTERM with no agent coming
// back the proxy exits by itself after dns.proxyOrphanTimeoutMs. Needs root, the native addon,
// PostgreSQL and dnsmasq: skipped without them, failed on CI.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import {
  type ControlPlane,
  kernelPolicy,
  LAB_PARTS,
  startControlPlane,
  until,
} from "./control-plane-harness";
import { dig } from "./dig";
import { startDnsmasq } from "./dnsmasq";
import { FABRIC, type LabTopology } from "./topology";
import { startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabdsv${process.pid}-`;
const NODE = "dsv-n1";
const CLIENTS = ["client-1", "client-2"];
const topology: LabTopology = {
  nodes: [{ name: NODE, podCIDRs: ["10.244.53.0/24"] }],
  pods: CLIENTS.map((name) => ({ node: NODE, name, namespace: "shop", labels: { app: "client" } })),
  dnsServer: true,
  externals: ["ext1"],
};
const DNS = FABRIC.v4(FABRIC.dnsHost);
/** n<i>.example.test → 10.96.<i>/… : every query of the loop learns a new address. */
const NAMES = 500;
const nameAddress = (i: number) => `10.96.${(i >> 8) + 1}.${i & 255}`;
const POLICY = {
  endpointSelector: { matchLabels: { app: "client" } },
  egress: [
    {
      toCIDR: [`${DNS}/32`],
      toPorts: [
        {
          ports: [{ port: "53", protocol: "ANY" as const }],
          rules: { dns: [{ matchPattern: "*.example.test" }] },
        },
      ],
    },
    {
      toFQDNs: [{ matchPattern: "*.example.test" }],
      toPorts: [{ ports: [{ port: "80", protocol: "TCP" as const }] }],
    },
  ],
};
/** Shorter than the kernel's first SYN retransmission (1 s): a connection that needs a retry fails. */
const FIRST_SYN_MS = 800;

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let dnsmasq: ChildProcess | undefined;
const servers: TcpServer[] = [];
const netnsOf = (pod: string) => lab!.pods.get(pod)!.netns;
const stateDir = () => path.join(path.dirname(lab!.nodes.get(NODE)!.logFile), "state");

interface ProxyState {
  state: "up" | "down";
  pid?: number;
  since?: string;
  adopted?: boolean;
  startedBy?: string;
}
async function proxyState(): Promise<ProxyState> {
  const s = JSON.parse(await lab!.agentCli(NODE, ["status", "--json"])) as { dnsProxy: ProxyState };
  return s.dnsProxy;
}
/** Running (a zombie waiting for its reaper counts as gone). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
const tail = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-15).join("\n") : "(none)";

interface LoopResult {
  answered: number;
  failed: string[];
  /** The last allowed answer's address and when it arrived. */
  last?: { address: string; at: number };
  addresses: string[];
}

/** One pod asking in a loop: new allowed names (each a new address), every fourth a denied one, some over TCP. */
function queryLoop(pod: string, offset: number) {
  let stopped = false;
  const r: LoopResult = { answered: 0, failed: [], addresses: [] };
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const denied = i % 4 === 3;
      const k = (offset + i) % NAMES;
      const name = denied ? "blocked.other.test" : `n${k}.example.test`;
      const q = await dig(netnsOf(pod), { server: DNS, name, tcp: i % 5 === 4 });
      const ok = denied
        ? q.status === "REFUSED"
        : q.status === "NOERROR" && q.addresses.length === 1 && q.addresses[0] === nameAddress(k);
      if (ok) {
        r.answered++;
        if (!denied) {
          r.last = { address: nameAddress(k), at: Date.now() };
          r.addresses.push(nameAddress(k));
        }
      } else
        r.failed.push(`${new Date().toISOString()} ${pod} ${name}: ${q.status} ${q.addresses.join(",")}`);
    }
  })();
  return {
    live: r,
    stop: async () => {
      stopped = true;
      await done;
      return r;
    },
  };
}

/** Both pods query for 1.5 s, through `during` (given the loops' results so far), and 1.5 s after. */
async function queriesDuring(during: (live: LoopResult[]) => Promise<void>, offset: number) {
  const loops = CLIENTS.map((p, i) => queryLoop(p, offset + i * 100));
  try {
    await new Promise((r) => setTimeout(r, 1_500));
    await during(loops.map((l) => l.live));
    await new Promise((r) => setTimeout(r, 1_500));
  } finally {
    // Stopped even if `during` threw, so no loop keeps running.
    await Promise.all(loops.map((l) => l.stop()));
  }
  const results = loops.map((l) => l.live);
  return {
    results,
    answered: results.reduce((n, r) => n + r.answered, 0),
    failed: results.flatMap((r) => r.failed),
    given: [...new Set(results.flatMap((r) => r.addresses))],
  };
}

/** Every address the pods were given is in the agent's cache (taken over or restored) and opens on the first SYN. */
async function expectAllLearned(given: string[]) {
  const cache = JSON.parse(await lab!.agentCli(NODE, ["dns", "cache", "--json"])) as { address: string }[];
  const learned = new Set(cache.map((e) => e.address));
  const missing = given.filter((a) => !learned.has(a));
  if (missing.length > 0) {
    const log = JSON.parse(await lab!.agentCli(NODE, ["dns", "log", "--json"])) as {
      time: string;
      answers?: { address: string }[];
    }[];
    const events = log.filter((e) => e.answers?.some((x) => missing.includes(x.address)));
    const opens = await Promise.all(
      missing.map((a) => tcpConnect(netnsOf("client-2"), a, 80, FIRST_SYN_MS).then((c) => c.ok)),
    );
    console.log("missing from the cache:", missing, "open:", opens, JSON.stringify(events));
    console.log(tail(lab!.nodes.get(NODE)!.logFile));
  }
  expect(missing).toEqual([]);
  for (const a of given.slice(-5))
    expect((await tcpConnect(netnsOf("client-2"), a, 80, FIRST_SYN_MS)).ok).toBe(true);
}

const realParts = needs("FQDN proxy restart lab", [...LAB_PARTS, parts.dnsmasq]);

describe.skipIf(realParts.skip)("FQDN policy: the DNS proxy process answers through agent restarts", () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
    const node = lab.nodes.get(NODE)!;
    const ext = lab.externals.get("ext1")!;
    const all = Array.from({ length: NAMES }, (_, i) => nameAddress(i));
    await lab.exec(ext.netns, [
      "sh",
      "-c",
      `ip -batch - <<'EOF'\n${all.map((a) => `addr add ${a}/32 dev lo`).join("\n")}\nEOF`,
    ]);
    await lab.exec(node.netns, ["ip", "route", "add", "10.96.0.0/16", "via", ext.ipv4]);
    servers.push(await startTcpServer(ext.netns, 80, "ext1"));
    const hosts = path.join(lab.dir, "names.hosts");
    writeFileSync(hosts, all.map((a, i) => `${a} n${i}.example.test`).join("\n"));
    dnsmasq = startDnsmasq(lab.dns!.netns, DNS, lab.dir, [
      `--addn-hosts=${hosts}`,
      "--local-ttl=300",
      "--host-record=blocked.other.test,10.96.0.9,300",
    ]);
    await cp.client.policies.create.mutate({ namespace: "shop", name: "client-dns", spec: POLICY });
    for (const pod of CLIENTS)
      await until(
        `${pod}'s FQDN policy in the kernel`,
        async () => (await kernelPolicy(lab!, pod)).endpoint?.egressEnforced === true,
        30_000,
      );
    await until(
      "dnsmasq answers through the proxy",
      async () =>
        (await dig(netnsOf("client-1"), { server: DNS, name: "n0.example.test" })).status === "NOERROR",
      15_000,
    );
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    dnsmasq?.kill("SIGKILL");
    // The proxy is in the node's namespace: teardownLab ends it with the agent, by the namespace's pids.
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix);
    await cp?.close();
  }, 60_000);

  it("status shows the proxy process: up, its pid, since when", async () => {
    const p = await proxyState();
    expect(p).toMatchObject({ state: "up", adopted: false, startedBy: "0.1.0" });
    expect(alive(p.pid!)).toBe(true);
    expect(Number(readFileSync(path.join(stateDir(), "dns-proxy.pid"), "utf8"))).toBe(p.pid);
    expect(Date.parse(p.since!)).toBeLessThanOrEqual(Date.now());
    const table = await lab!.agentCli(NODE, ["status"]);
    expect(table).toMatch(new RegExp(`dns proxy\\s+up, pid ${p.pid}, since `));
  });

  it("SIGKILL and restart: every query of two pods is answered, and learned addresses stay open", async () => {
    const before = await proxyState();
    let connectAfter: { ok: boolean } | undefined;
    const q = await queriesDuring(async (live) => {
      await lab!.restartAgent(NODE, "SIGKILL");
      // Right after the restart: the newest address a pod was given (while no agent ran, or just before).
      const newest = live[0]!.last!.address;
      connectAfter = await tcpConnect(netnsOf("client-1"), newest, 80, FIRST_SYN_MS);
    }, 0);
    console.log(`SIGKILL restart: ${q.answered} queries answered, ${q.failed.length} failed`, q.failed);
    expect(q.failed).toEqual([]);
    expect(q.answered).toBeGreaterThan(20);
    expect(connectAfter?.ok).toBe(true);
    expect(await proxyState()).toMatchObject({
      state: "up",
      pid: before.pid,
      since: before.since,
      adopted: true,
    });
    await expectAllLearned(q.given);
    expect(readFileSync(lab!.nodes.get(NODE)!.logFile, "utf8")).toContain("dns: adopted the running proxy");
  }, 120_000);

  it("an upgrade (SIGTERM, then another build of the agent): every query answered, the proxy stays", async () => {
    const before = await proxyState();
    const node = lab!.nodes.get(NODE)!;
    const q = await queriesDuring(async () => {
      await lab!.restartAgent(NODE, "SIGTERM", { env: { MERIDIAN_AGENT_BUILD: "upgrade1" } });
    }, 200);
    console.log(`upgrade restart: ${q.answered} queries answered, ${q.failed.length} failed`, q.failed);
    expect(q.failed).toEqual([]);
    expect(q.answered).toBeGreaterThan(20);
    const started = readFileSync(node.logFile, "utf8")
      .split("\n")
      .filter((l) => l.includes('"msg":"agent started"'));
    expect(started.at(-1)).toContain('"version":"0.1.0+upgrade1"');
    // The same proxy process, started by the previous build.
    expect(await proxyState()).toMatchObject({
      state: "up",
      pid: before.pid,
      adopted: true,
      startedBy: "0.1.0",
    });
    await expectAllLearned(q.given);
  }, 120_000);

  it("meridian-agent stop ends the proxy at once (fail closed: no unfiltered DNS); a new agent starts a new one", async () => {
    const { pid } = await proxyState();
    expect(await lab!.agentCli(NODE, ["stop"])).toContain("stopping");
    await until("the proxy exited", async () => !alive(pid!), 10_000).catch((err) => {
      const node = lab!.nodes.get(NODE)!;
      console.log(
        `proxy log:\n${tail(path.join(stateDir(), "dns-proxy.log"))}\nagent log:\n${tail(node.logFile)}`,
      );
      throw err;
    });
    expect(existsSync(path.join(stateDir(), "dns-proxy.pid"))).toBe(false);
    expect(existsSync(path.join(stateDir(), "dns-proxy.sock"))).toBe(false);
    // The redirect stays: the pod's query meets a closed port, it does not reach the server unfiltered.
    const q = await dig(netnsOf("client-1"), { server: DNS, name: "n7.example.test" });
    expect(q.status).not.toBe("NOERROR");
    await lab!.restartAgent(NODE);
    const next = await proxyState();
    expect(next).toMatchObject({ state: "up", adopted: false });
    expect(next.pid).not.toBe(pid);
    expect((await dig(netnsOf("client-1"), { server: DNS, name: "n7.example.test" })).status).toBe("NOERROR");
  }, 120_000);

  it("SIGTERM with no agent coming back: the proxy answers alone, then exits after dns.proxyOrphanTimeoutMs", async () => {
    const node = lab!.nodes.get(NODE)!;
    const configFile = path.join(path.dirname(node.logFile), "config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8"));
    writeFileSync(configFile, JSON.stringify({ ...config, dns: { proxyOrphanTimeoutMs: 4_000 } }, null, 2));
    // The new agent's bound applies to the running proxy (its ack carries the settings).
    await lab!.restartAgent(NODE, "SIGTERM");
    const { pid } = await proxyState();
    await lab!.stopAgent(NODE, "SIGTERM");
    const stoppedAt = Date.now();
    // No agent: still answered, with the last rules.
    expect(await dig(netnsOf("client-1"), { server: DNS, name: "n9.example.test" })).toMatchObject({
      status: "NOERROR",
      addresses: [nameAddress(9)],
    });
    expect((await dig(netnsOf("client-1"), { server: DNS, name: "blocked.other.test" })).status).toBe(
      "REFUSED",
    );
    expect(alive(pid!)).toBe(true);
    await until("the orphaned proxy exited", async () => !alive(pid!), 15_000);
    const waited = Date.now() - stoppedAt;
    console.log(`orphaned proxy exited ${waited} ms after the agent's SIGTERM (bound 4,000 ms)`);
    expect(waited).toBeGreaterThanOrEqual(3_500);
    expect(existsSync(path.join(stateDir(), "dns-proxy.pid"))).toBe(false);
    const proxyLog = readFileSync(path.join(stateDir(), "dns-proxy.log"), "utf8");
    expect(proxyLog).toContain("no agent for 4000 ms");
  }, 120_000);
});
