// FQDN policy over IPv6, on real traffic: a dual-stack pod asks a real dnsmasq over IPv6 and
// over IPv4, for A and AAAA. Queries over IPv6 must meet the same proxy as IPv4 ones (redirected
// by from_pod, filtered by the same rules, answered with the server's address as the source), and
// an AAAA answer must open its IPv6 address before the pod gets it, for its TTL. Needs root, the
// native addon, PostgreSQL and dnsmasq: skipped without them, failed on CI.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
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
import { type DigQuery, dig } from "./dig";
import { startDnsmasq } from "./dnsmasq";
import { FABRIC, type LabTopology } from "./topology";
import { startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabd6${process.pid}-`;
const NODE = "d6-n1";
const topology: LabTopology = {
  nodes: [{ name: NODE, podCIDRs: ["10.244.46.0/24", "fd00:10:244:46::/64"] }],
  pods: [
    { node: NODE, name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: NODE, name: "other-1", namespace: "shop", labels: { app: "other" } },
  ],
  dnsServer: true,
  externals: ["ext1"],
};
const DNS4 = FABRIC.v4(FABRIC.dnsHost);
const DNS6 = FABRIC.v6(FABRIC.dnsHost);
// Addresses the names resolve to: on the external server's loopback, routed from the node.
const V6 = {
  www: "fd99:1::10",
  short: "fd99:1::11",
  tcp: "fd99:1::12",
  dual: "fd99:1::13",
  blocked: "fd99:1::20",
};
const V4 = { dual: "10.99.1.13", viaV6: "10.99.1.14" };
const SHORT_TTL = 5;
const CLIENT_POLICY = {
  endpointSelector: { matchLabels: { app: "client" } },
  egress: [
    {
      toCIDR: [`${DNS4}/32`, `${DNS6}/128`],
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
let dnsmasqLog = "";
const servers: TcpServer[] = [];
const pod = (name: string) => lab!.pods.get(name)!;

const digFrom = (podName: string, q: DigQuery) => dig(pod(podName).netns, q);
const connect = (from: string, ip: string, timeoutMs = FIRST_SYN_MS) =>
  tcpConnect(pod(from).netns, ip, 80, timeoutMs);

interface CacheEntry {
  endpoint: string;
  address: string;
  names: string[];
  expiresInSeconds: number;
}
async function dnsCache(): Promise<CacheEntry[]> {
  return JSON.parse(await lab!.agentCli(NODE, ["dns", "cache", "--json"])) as CacheEntry[];
}
interface DnsEvent {
  client: string;
  name?: string;
  type?: string;
  verdict: string;
  rcode?: number;
  protocol: string;
  server?: string;
  answers?: { address: string; ttl: number }[];
}
async function dnsLog(): Promise<DnsEvent[]> {
  return JSON.parse(await lab!.agentCli(NODE, ["dns", "log", "--json"])) as DnsEvent[];
}

const realParts = needs("FQDN policy over IPv6 lab", [...LAB_PARTS, parts.dnsmasq]);

describe.skipIf(realParts.skip)("FQDN policy over IPv6: queries and AAAA answers", () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
    const ext = lab.externals.get("ext1")!;
    const node = lab.nodes.get(NODE)!;
    for (const a of Object.values(V6))
      await lab.exec(ext.netns, ["ip", "-6", "addr", "add", `${a}/128`, "dev", "lo", "nodad"]);
    for (const a of Object.values(V4))
      await lab.exec(ext.netns, ["ip", "addr", "add", `${a}/32`, "dev", "lo"]);
    await lab.exec(node.netns, ["ip", "-6", "route", "add", "fd99:1::/64", "via", ext.ipv6]);
    await lab.exec(node.netns, ["ip", "route", "add", "10.99.1.0/24", "via", ext.ipv4]);
    servers.push(await startTcpServer(ext.netns, 80, "ext1"));
    const logFile = path.join(lab.dir, "dnsmasq.log");
    dnsmasq = startDnsmasq(lab.dns!.netns, `${DNS4},${DNS6}`, lab.dir, [
      "--log-queries",
      `--log-facility=${logFile}`,
      `--host-record=www.example.test,${V6.www},300`,
      `--host-record=short.example.test,${V6.short},${SHORT_TTL}`,
      `--host-record=tcp.example.test,${V6.tcp},300`,
      `--host-record=dual.example.test,${V4.dual},${V6.dual},300`,
      `--host-record=v4.example.test,${V4.viaV6},300`,
      `--host-record=blocked.other.test,${V6.blocked},300`,
    ]);
    dnsmasqLog = logFile;
    // dnsmasq answers other-1 straight over IPv6 (no DNS policy selects it): the server works.
    await until(
      "dnsmasq answers over IPv6",
      async () =>
        (await digFrom("other-1", { server: DNS6, name: "www.example.test", type: "AAAA" })).status ===
        "NOERROR",
      15_000,
    );
    await cp.client.policies.create.mutate({ namespace: "shop", name: "client-dns6", spec: CLIENT_POLICY });
    await until(
      "client-1's FQDN policy in the kernel",
      async () => (await kernelPolicy(lab!, "client-1")).endpoint?.egressEnforced === true,
      30_000,
    );
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    dnsmasq?.kill("SIGKILL");
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix);
    await cp?.close();
  }, 60_000);

  it("before any lookup the names' IPv6 addresses are blocked for client-1, open for other-1", async () => {
    expect(pod("client-1").ipv6).toMatch(/^fd00:10:244:46:/);
    expect((await connect("client-1", V6.www)).ok).toBe(false);
    expect(await connect("other-1", V6.www)).toEqual({ ok: true, reply: `ext1 ${pod("other-1").ipv6}` });
  });

  it("an AAAA answer (asked over IPv4) opens its IPv6 address before the pod gets it", async () => {
    const r = await digFrom("client-1", { server: DNS4, name: "www.example.test", type: "AAAA" });
    expect(r).toMatchObject({ status: "NOERROR", server: `${DNS4}#53(${DNS4})`, addresses: [V6.www] });
    expect(await connect("client-1", V6.www)).toEqual({ ok: true, reply: `ext1 ${pod("client-1").ipv6}` });
    expect((await dnsCache()).map((x) => [x.endpoint, x.address])).toContainEqual(["shop/client-1", V6.www]);
  });

  it("a query over IPv6 goes through the proxy and is answered from the server's address", async () => {
    const r = await digFrom("client-1", { server: DNS6, name: "v4.example.test" });
    expect(r).toMatchObject({ status: "NOERROR", server: `${DNS6}#53(${DNS6})`, addresses: [V4.viaV6] });
    const e = (await dnsLog()).find((x) => x.name === "v4.example.test")!;
    expect(e).toMatchObject({
      client: pod("client-1").ipv6,
      verdict: "allowed",
      rcode: 0,
      protocol: "udp",
      server: `${DNS6}:53`,
    });
    expect((await connect("client-1", V4.viaV6)).ok).toBe(true);
  });

  it("a denied name asked over IPv6 is REFUSED by the proxy and never reaches the server", async () => {
    const r = await digFrom("client-1", { server: DNS6, name: "blocked.other.test", type: "AAAA" });
    expect(r).toMatchObject({ status: "REFUSED", server: `${DNS6}#53(${DNS6})`, addresses: [] });
    expect(readFileSync(dnsmasqLog, "utf8")).not.toContain("blocked.other.test");
    expect((await dnsLog()).find((x) => x.name === "blocked.other.test")).toMatchObject({
      client: pod("client-1").ipv6,
      verdict: "denied",
      rcode: 5,
    });
    expect((await connect("client-1", V6.blocked, 2_000)).ok).toBe(false);
  });

  it("DNS over TCP on IPv6 goes through the proxy too", async () => {
    const r = await digFrom("client-1", { server: DNS6, name: "tcp.example.test", type: "AAAA", tcp: true });
    expect(r).toMatchObject({ status: "NOERROR", server: `${DNS6}#53(${DNS6})`, addresses: [V6.tcp] });
    expect((await dnsLog()).find((x) => x.name === "tcp.example.test")).toMatchObject({
      verdict: "allowed",
      protocol: "tcp",
      server: `${DNS6}:53`,
    });
    expect((await connect("client-1", V6.tcp)).ok).toBe(true);
    expect(
      await digFrom("client-1", { server: DNS6, name: "blocked.other.test", type: "AAAA", tcp: true }),
    ).toMatchObject({ status: "REFUSED" });
  });

  it("A and AAAA of one name, asked over IPv6, open both families", async () => {
    expect(await digFrom("client-1", { server: DNS6, name: "dual.example.test" })).toMatchObject({
      status: "NOERROR",
      addresses: [V4.dual],
    });
    expect(
      await digFrom("client-1", { server: DNS6, name: "dual.example.test", type: "AAAA" }),
    ).toMatchObject({
      status: "NOERROR",
      addresses: [V6.dual],
    });
    expect(await connect("client-1", V4.dual)).toEqual({ ok: true, reply: `ext1 ${pod("client-1").ipv4}` });
    expect(await connect("client-1", V6.dual)).toEqual({ ok: true, reply: `ext1 ${pod("client-1").ipv6}` });
  });

  it("after an AAAA answer's TTL passes with no connection, its IPv6 address is blocked again", async () => {
    const r = await digFrom("client-1", { server: DNS6, name: "short.example.test", type: "AAAA" });
    expect(r).toMatchObject({ status: "NOERROR", addresses: [V6.short], ttls: [SHORT_TTL] });
    expect((await dnsCache()).some((x) => x.address === V6.short)).toBe(true);
    await until(
      "the expired IPv6 address leaves the cache",
      async () => !(await dnsCache()).some((x) => x.address === V6.short),
      SHORT_TTL * 1000 + 3_000,
    );
    expect((await connect("client-1", V6.short, 2_000)).ok).toBe(false);
    expect(
      await digFrom("client-1", { server: DNS6, name: "short.example.test", type: "AAAA" }),
    ).toMatchObject({
      status: "NOERROR",
    });
    expect((await connect("client-1", V6.short)).ok).toBe(true);
  });
});
