// FQDN policy on real traffic: a real dnsmasq in the lab's DNS namespace, a policy written through
// the API whose DNS rules and toFQDNs the compiler turns into the node's desired state, and the
// agent's DNS proxy in between — reached only because from_pod redirects the pod's DNS (the pod
// asks the server itself, as its resolver is configured). Needs root, the native addon, PostgreSQL
// and dnsmasq (`npm test`): skipped without them, failed on CI.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { AGENT_BIN } from "@meridian/node-agent/cni/invoke";
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
import { dig as digIn } from "./dig";
import { startDnsmasq } from "./dnsmasq";
import type { LabTopology } from "./topology";
import { startEchoServer, startStream, startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabd${process.pid}-`;
const NODE = "d-n1";
const topology: LabTopology = {
  nodes: [{ name: NODE, podCIDRs: ["10.244.41.0/24"] }],
  pods: [
    { node: NODE, name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: NODE, name: "other-1", namespace: "shop", labels: { app: "other" } },
  ],
  dnsServer: true,
  externals: ["ext1"],
};
const DNS = "10.99.0.53";
// Addresses the names resolve to: on the external server's loopback, routed from the node.
const ADDR = {
  www: "10.99.1.10",
  short: "10.99.1.11",
  cnamed: "10.99.1.12",
  tcp: "10.99.1.13",
  corp: "10.99.1.14",
  held: "10.99.1.15",
  blocked: "10.99.1.20",
};
const SHORT_TTL = 5;
const CLIENT_POLICY = {
  endpointSelector: { matchLabels: { app: "client" } },
  egress: [
    {
      toCIDR: [`${DNS}/32`],
      toPorts: [
        {
          ports: [{ port: "53", protocol: "ANY" as const }],
          rules: {
            dns: [
              { matchPattern: "*.example.test" },
              { matchPattern: "**.corp.test" },
              { matchName: "alias.other.test" },
            ],
          },
        },
      ],
    },
    {
      toFQDNs: [{ matchPattern: "*.example.test" }, { matchPattern: "**.corp.test" }],
      toPorts: [
        {
          ports: [
            { port: "80", protocol: "TCP" as const },
            { port: "7", protocol: "TCP" as const },
          ],
        },
      ],
    },
  ],
};
/** Shorter than the kernel's first SYN retransmission (1 s): a connection that needs a retry fails. */
const FIRST_SYN_MS = 800;

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let dnsmasq: ChildProcess | undefined;
let dnsmasqLog = "";
const servers: TcpServer[] = [];
const pod = (name: string) => lab!.pods.get(name)!;

/** dig inside a pod, asking the lab's DNS server directly (the pod's own resolver choice). */
async function dig(podName: string, name: string, tcp = false) {
  const { status, server, addresses } = await digIn(pod(podName).netns, { server: DNS, name, tcp });
  return { status, server, addresses };
}

const connect = (from: string, ip: string, timeoutMs = FIRST_SYN_MS) =>
  tcpConnect(pod(from).netns, ip, 80, timeoutMs);

interface CacheEntry {
  endpoint: string;
  address: string;
  names: string[];
  expiresInSeconds: number;
  heldByConnection: boolean;
}
async function dnsCache(): Promise<CacheEntry[]> {
  return JSON.parse(await lab!.agentCli(NODE, ["dns", "cache", "--json"])) as CacheEntry[];
}
interface DnsEvent {
  name?: string;
  verdict: string;
  rcode?: number;
  rule?: string;
  reason?: string;
  protocol: string;
  datapathMs?: number;
  server?: string;
}
async function dnsLog(): Promise<DnsEvent[]> {
  return JSON.parse(await lab!.agentCli(NODE, ["dns", "log", "--json"])) as DnsEvent[];
}

/** `meridian-agent dns log --follow …` against the node's agent, its stdout lines as they arrive. */
function followDnsLog(args: string[]) {
  const n = lab!.nodes.get(NODE)!;
  const child = spawn(
    process.execPath,
    [AGENT_BIN, "dns", "log", "--follow", ...args, "--socket", n.socket],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  followers.push(child);
  const lines: string[] = [];
  let buf = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    lines,
    stderr: () => stderr,
    /** Ctrl-C, as a person ends it; the exit code. */
    stop: () => {
      child.kill("SIGINT");
      return exited;
    },
  };
}
const followers: ChildProcess[] = [];

const realParts = needs("FQDN policy lab", [...LAB_PARTS, parts.dnsmasq]);

describe.skipIf(realParts.skip)("FQDN policy: the DNS proxy opens the datapath before the answer", () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
    const ext = lab.externals.get("ext1")!;
    const node = lab.nodes.get(NODE)!;
    for (const a of Object.values(ADDR))
      await lab.exec(ext.netns, ["ip", "addr", "add", `${a}/32`, "dev", "lo"]);
    await lab.exec(node.netns, ["ip", "route", "add", "10.99.1.0/24", "via", ext.ipv4]);
    servers.push(await startTcpServer(ext.netns, 80, "ext1"));
    servers.push(await startEchoServer(ext.netns, 7));
    const logFile = path.join(lab.dir, "dnsmasq.log");
    dnsmasq = startDnsmasq(lab.dns!.netns, DNS, lab.dir, [
      "--log-queries",
      `--log-facility=${logFile}`,
      `--host-record=www.example.test,${ADDR.www},300`,
      `--host-record=short.example.test,${ADDR.short},${SHORT_TTL}`,
      `--host-record=cnamed.example.test,${ADDR.cnamed},300`,
      `--host-record=tcp.example.test,${ADDR.tcp},300`,
      `--host-record=a.b.corp.test,${ADDR.corp},300`,
      `--host-record=held.example.test,${ADDR.held},${SHORT_TTL}`,
      `--host-record=blocked.other.test,${ADDR.blocked},300`,
      "--cname=alias.other.test,cnamed.example.test,300",
    ]);
    dnsmasqLog = logFile;
    // dnsmasq answers other pods straight (no DNS policy selects them): a server that works.
    await until(
      "dnsmasq answers",
      async () => (await dig("other-1", "www.example.test")).status === "NOERROR",
      15_000,
    );
    await cp.client.policies.create.mutate({ namespace: "shop", name: "client-dns", spec: CLIENT_POLICY });
    await until(
      "client-1's FQDN policy in the kernel",
      async () => (await kernelPolicy(lab!, "client-1")).endpoint?.egressEnforced === true,
      30_000,
    );
  }, 300_000);

  afterAll(async () => {
    for (const f of followers) if (f.exitCode === null) f.kill("SIGKILL");
    for (const s of servers) await s.stop().catch(() => undefined);
    dnsmasq?.kill("SIGKILL");
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix);
    await cp?.close();
  }, 60_000);

  it("before any lookup, the allowed names' addresses are blocked (no entry yet)", async () => {
    expect((await connect("client-1", ADDR.www)).ok).toBe(false);
    // The same address is open to a pod no policy selects: the block is the policy's.
    expect((await connect("other-1", ADDR.www)).ok).toBe(true);
  });

  it("an allowed name resolves through the proxy and the very first connection succeeds", async () => {
    const r = await dig("client-1", "www.example.test");
    expect(r).toEqual({ status: "NOERROR", server: `${DNS}#53(${DNS})`, addresses: [ADDR.www] });
    const c = await connect("client-1", ADDR.www);
    expect(c).toEqual({ ok: true, reply: `ext1 ${pod("client-1").ipv4}` });
    const e = (await dnsLog()).find((x) => x.name === "www.example.test")!;
    expect(e).toMatchObject({ verdict: "allowed", rcode: 0, protocol: "udp", server: `${DNS}:53` });
    expect(e.rule).toContain("matchPattern:*.example.test");
    expect(e.datapathMs).toBeGreaterThanOrEqual(0);
    console.log(`answer → datapath: ${e.datapathMs} ms`);
    expect((await dnsCache()).map((x) => [x.endpoint, x.address])).toContainEqual([
      "shop/client-1",
      ADDR.www,
    ]);
  });

  it("** matches names any number of labels deep", async () => {
    expect(await dig("client-1", "a.b.corp.test")).toMatchObject({
      status: "NOERROR",
      addresses: [ADDR.corp],
    });
    expect((await connect("client-1", ADDR.corp)).ok).toBe(true);
  });

  it("a denied name is REFUSED by the proxy, never reaches the server, and its address stays blocked", async () => {
    const r = await dig("client-1", "blocked.other.test");
    expect(r.status).toBe("REFUSED");
    expect(r.addresses).toEqual([]);
    expect(readFileSync(dnsmasqLog, "utf8")).not.toContain("blocked.other.test");
    const e = (await dnsLog()).find((x) => x.name === "blocked.other.test")!;
    expect(e).toMatchObject({ verdict: "denied", rcode: 5 });
    expect(e.reason).toContain("allows blocked.other.test");
    expect((await connect("client-1", ADDR.blocked, 2_000)).ok).toBe(false);
  });

  it("a name reached through a CNAME to an allowed target opens the target's address", async () => {
    const r = await dig("client-1", "alias.other.test");
    expect(r).toMatchObject({ status: "NOERROR", addresses: [ADDR.cnamed] });
    expect((await connect("client-1", ADDR.cnamed)).ok).toBe(true);
  });

  it("DNS over TCP goes through the proxy too", async () => {
    const r = await dig("client-1", "tcp.example.test", true);
    expect(r).toEqual({ status: "NOERROR", server: `${DNS}#53(${DNS})`, addresses: [ADDR.tcp] });
    expect((await connect("client-1", ADDR.tcp)).ok).toBe(true);
    const e = (await dnsLog()).find((x) => x.name === "tcp.example.test")!;
    expect(e).toMatchObject({ verdict: "allowed", protocol: "tcp" });
    expect(await dig("client-1", "blocked.other.test", true)).toMatchObject({ status: "REFUSED" });
  });

  it("dns log --follow streams each query as the proxy answers it: pod, name, verdict, answers with TTLs", async () => {
    const json = followDnsLog(["--json"]);
    const denied = followDnsLog(["--verdict", "denied", "--pod", "client-1"]);
    const events = () =>
      json.lines.map(
        (l) =>
          JSON.parse(l) as DnsEvent & {
            endpoint?: string;
            type?: string;
            answers?: { address: string; ttl: number }[];
          },
      );
    // A positive barrier: both streams are subscribed once a query made now shows up in both.
    await until(
      "the follow streams are connected",
      async () => {
        await dig("client-1", "nope.other.test");
        return (
          events().some((e) => e.name === "nope.other.test") &&
          denied.lines.some((l) => l.includes("nope.other.test"))
        );
      },
      20_000,
    );
    const t0 = Date.now();
    expect(await dig("client-1", "alias.other.test")).toMatchObject({ status: "NOERROR" });
    expect(await dig("client-1", "blocked.other.test")).toMatchObject({ status: "REFUSED" });
    await until(
      "both queries in the JSON stream",
      async () => events().some((e) => e.name === "blocked.other.test"),
      5_000,
    );
    console.log(`dns log --follow: both queries streamed within ${Date.now() - t0} ms of the first dig`);
    const alias = events().find((e) => e.name === "alias.other.test")!;
    expect(alias).toMatchObject({
      endpoint: "shop/client-1",
      type: "A",
      verdict: "allowed",
      rcode: 0,
      protocol: "udp",
    });
    expect(alias.rule).toContain("matchName:alias.other.test");
    expect(alias.answers?.map((a) => a.address)).toEqual([ADDR.cnamed]);
    for (const a of alias.answers ?? []) expect(a.ttl).toBeGreaterThan(0);
    expect(alias.answers!.every((a) => a.ttl <= 300)).toBe(true);
    expect(events().find((e) => e.name === "blocked.other.test")).toMatchObject({
      endpoint: "shop/client-1",
      verdict: "denied",
      rcode: 5,
    });
    // The table stream: a header, then only the denied queries of client-1.
    await until(
      "the denied query in the table stream",
      async () => denied.lines.some((l) => l.includes("blocked.other.test")),
      5_000,
    );
    expect(denied.lines[0]).toMatch(
      /^TIME\s+ENDPOINT\s+NAME\s+TYPE\s+VERDICT\s+RCODE\s+ANSWERS \(TTL\)\s+RULE \/ REASON$/,
    );
    const rows = denied.lines.slice(1);
    expect(rows.every((l) => /\sdenied\s+REFUSED\s/.test(l) && l.includes("shop/client-1"))).toBe(true);
    expect(rows.some((l) => l.includes("alias.other.test"))).toBe(false);
    expect(rows.find((l) => l.includes("blocked.other.test"))).toContain("allows blocked.other.test");
    expect(await json.stop()).toBe(0);
    expect(await denied.stop()).toBe(0);
    expect(json.stderr() + denied.stderr()).toBe("");
  });

  it("after the TTL passes with no connection, the address is blocked again", async () => {
    expect(await dig("client-1", "short.example.test")).toMatchObject({
      status: "NOERROR",
      addresses: [ADDR.short],
    });
    expect((await dnsCache()).some((x) => x.address === ADDR.short)).toBe(true);
    await until(
      "the expired address leaves the cache",
      async () => !(await dnsCache()).some((x) => x.address === ADDR.short),
      SHORT_TTL * 1000 + 3_000,
    );
    expect((await connect("client-1", ADDR.short, 2_000)).ok).toBe(false);
    // Asking again opens it again, at once.
    expect(await dig("client-1", "short.example.test")).toMatchObject({ status: "NOERROR" });
    expect((await connect("client-1", ADDR.short)).ok).toBe(true);
  });

  it("an open connection outlives its TTL: the address stays while the connection carries packets", async () => {
    expect(await dig("client-1", "held.example.test")).toMatchObject({
      status: "NOERROR",
      addresses: [ADDR.held],
    });
    const stream = await startStream(pod("client-1").netns, ADDR.held, 7);
    await new Promise((r) => setTimeout(r, SHORT_TTL * 1000 + 2_000));
    const entry = (await dnsCache()).find((x) => x.address === ADDR.held);
    expect(entry).toMatchObject({ endpoint: "shop/client-1", heldByConnection: true });
    const result = await stream.stop();
    expect(result.error).toBeNull();
    expect(result.received).toBe(result.sent);
    expect(result.sent).toBeGreaterThan(100);
  });

  it("an agent restart keeps learned addresses: an open stream carries on and the next first SYN connects", async () => {
    const stream = await startStream(pod("client-1").netns, ADDR.www, 7);
    await lab!.restartAgent(NODE, "SIGKILL");
    const result = await stream.stop();
    expect(result.error).toBeNull();
    expect(result.received).toBe(result.sent);
    expect((await dnsCache()).map((x) => x.address)).toContain(ADDR.www);
    expect((await connect("client-1", ADDR.www)).ok).toBe(true);
    expect(readFileSync(lab!.nodes.get(NODE)!.logFile, "utf8")).toContain("dns: learned addresses restored");
    // The proxy serves again, with the same rules.
    expect(await dig("client-1", "www.example.test")).toMatchObject({ status: "NOERROR" });
    expect(await dig("client-1", "blocked.other.test")).toMatchObject({ status: "REFUSED" });
  });
});
