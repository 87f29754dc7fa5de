// FQDN policy's bounds on learned addresses, against a real DNS server: dnsmasq answers one name
// with 3,000 A records (over TCP, as a resolver retries a truncated answer), and three more names
// with 200 each. The agent runs with small limits (200 per name, 500 per endpoint) so that the
// test shows what the defaults (1,000 / 5,000) do at scale: the pod still gets the server's whole
// answer, but only the newest addresses within the limits are opened, the oldest go first, every
// eviction is counted in a metric, and the agent's memory stays put. An address a limit evicts while a
// connection uses it stays open until the connection is idle (dns.connectionIdleMs, 1 s here).
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
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
import { startEchoServer, startStream, startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const prefix = `mrdlabdl${process.pid}-`;
const NODE = "dl-n1";
const topology: LabTopology = {
  nodes: [{ name: NODE, podCIDRs: ["10.244.47.0/24"] }],
  pods: [{ node: NODE, name: "client-1", namespace: "shop", labels: { app: "client" } }],
  dnsServer: true,
  externals: ["ext1"],
};
const DNS = FABRIC.v4(FABRIC.dnsHost);
const LIMITS = { maxAddressesPerName: 200, maxLearnedPerEndpoint: 500, connectionIdleMs: 1_000 };
const MANY = 3_000;
const BATCH = 200;
const manyAddress = (i: number) => `10.98.${i >> 8}.${i & 255}`;
const batchAddress = (b: number, i: number) => `10.97.${b}.${i}`;
const BATCH_NAMES = ["b1.example.test", "b2.example.test", "b3.example.test"];
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
const FIRST_SYN_MS = 800;

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let dnsmasq: ChildProcess | undefined;
const servers: TcpServer[] = [];
const client = () => lab!.pods.get("client-1")!;
const connect = (ip: string, timeoutMs = FIRST_SYN_MS) => tcpConnect(client().netns, ip, 80, timeoutMs);

interface CacheEntry {
  endpoint: string;
  address: string;
  names: string[];
  heldByConnection: boolean;
  overLimit?: boolean;
}
async function dnsCache(): Promise<CacheEntry[]> {
  return JSON.parse(await lab!.agentCli(NODE, ["dns", "cache", "--json"])) as CacheEntry[];
}
async function metrics(): Promise<string> {
  return lab!.exec(lab!.nodes.get(NODE)!.netns, ["curl", "-s", "http://127.0.0.1:9962/metrics"]);
}
function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name));
  if (!line) throw new Error(`no ${name} in the agent's metrics`);
  return Number(line.slice(name.length).trim());
}

const realParts = needs("FQDN learned-address limits lab", [...LAB_PARTS, parts.dnsmasq]);

describe.skipIf(realParts.skip)("FQDN policy: bounds on learned addresses against a real DNS server", () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
    const node = lab.nodes.get(NODE)!;
    const ext = lab.externals.get("ext1")!;
    // The agent with small limits: its config file, then a restart.
    const configFile = path.join(path.dirname(node.logFile), "config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8"));
    writeFileSync(configFile, JSON.stringify({ ...config, dns: LIMITS }, null, 2));
    await lab.restartAgent(NODE, "SIGTERM");
    // Every address answers on ext1 (one batch of `ip addr add`), routed from the node.
    const all = [
      ...Array.from({ length: MANY }, (_, i) => manyAddress(i)),
      ...BATCH_NAMES.flatMap((_, b) => Array.from({ length: BATCH }, (_, i) => batchAddress(b + 1, i + 1))),
    ];
    await lab.exec(ext.netns, [
      "sh",
      "-c",
      `ip -batch - <<'EOF'\n${all.map((a) => `addr add ${a}/32 dev lo`).join("\n")}\nEOF`,
    ]);
    for (const net of ["10.98.0.0/16", "10.97.0.0/16"])
      await lab.exec(node.netns, ["ip", "route", "add", net, "via", ext.ipv4]);
    servers.push(await startTcpServer(ext.netns, 80, "ext1"));
    servers.push(await startEchoServer(ext.netns, 7));
    const hosts = path.join(lab.dir, "many.hosts");
    writeFileSync(
      hosts,
      [
        ...Array.from({ length: MANY }, (_, i) => `${manyAddress(i)} many.example.test`),
        ...BATCH_NAMES.flatMap((n, b) =>
          Array.from({ length: BATCH }, (_, i) => `${batchAddress(b + 1, i + 1)} ${n}`),
        ),
      ].join("\n"),
    );
    dnsmasq = startDnsmasq(lab.dns!.netns, DNS, lab.dir, [
      `--addn-hosts=${hosts}`,
      "--local-ttl=300",
      "--host-record=ready.example.test,10.97.9.1,300",
    ]);
    await cp.client.policies.create.mutate({ namespace: "shop", name: "client-limits", spec: POLICY });
    await until(
      "client-1's FQDN policy in the kernel",
      async () => (await kernelPolicy(lab!, "client-1")).endpoint?.egressEnforced === true,
      30_000,
    );
    await until(
      "dnsmasq answers through the proxy",
      async () =>
        (await dig(client().netns, { server: DNS, name: "ready.example.test" })).status === "NOERROR",
      15_000,
    );
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    dnsmasq?.kill("SIGKILL");
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix);
    await cp?.close();
  }, 60_000);

  it("an answer with 3,000 A records reaches the pod whole; only its last 200 are opened, the rest counted", async () => {
    const rssBefore = metric(await metrics(), "meridian_agent_process_resident_memory_bytes");
    const r = await dig(client().netns, { server: DNS, name: "many.example.test", tcp: true });
    expect(r.status).toBe("NOERROR");
    expect(r.addresses).toHaveLength(MANY);
    const cache = (await dnsCache()).filter((e) => e.names.includes("many.example.test"));
    expect(cache).toHaveLength(LIMITS.maxAddressesPerName);
    // The oldest go first: of one answer, its last records are the ones kept.
    const kept = r.addresses.slice(-LIMITS.maxAddressesPerName);
    expect(new Set(cache.map((e) => e.address))).toEqual(new Set(kept));
    expect((await connect(kept.at(-1)!)).ok).toBe(true);
    expect((await connect(r.addresses[0]!, 2_000)).ok).toBe(false);
    const m = await metrics();
    expect(metric(m, 'meridian_dns_learned_evicted_total{limit="per-name"}')).toBe(
      MANY - LIMITS.maxAddressesPerName,
    );
    const log = JSON.parse(
      await lab!.agentCli(NODE, ["dns", "log", "--json", "--name", "many.example.test"]),
    ) as {
      verdict: string;
      answers: unknown[];
      answerCount: number;
      datapathMs: number;
    }[];
    expect(log.at(-1)).toMatchObject({ verdict: "allowed" });
    // The log keeps the first 64 addresses of an event and the count: 1,000 such events stay small.
    expect(log.at(-1)!.answers).toHaveLength(64);
    expect(log.at(-1)!.answerCount).toBe(MANY);
    const rssAfter = metric(m, "meridian_agent_process_resident_memory_bytes");
    console.log(
      `3,000-record answer: answer → datapath ${log.at(-1)!.datapathMs} ms; agent RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB`,
    );
  });

  it("the endpoint's limit: more names than it holds evict the endpoint's oldest entries, counted", async () => {
    const before = metric(await metrics(), 'meridian_dns_learned_evicted_total{limit="per-endpoint"}');
    const held = (await dnsCache()).filter((e) => e.endpoint === "shop/client-1").length;
    // A connection to many's newest address, which the batches below evict from the endpoint's 500.
    const inUse = manyAddress(MANY - 1);
    const stream = await startStream(client().netns, inUse, 7);
    for (const name of BATCH_NAMES) {
      const r = await dig(client().netns, { server: DNS, name, tcp: true });
      expect(r).toMatchObject({ status: "NOERROR" });
      expect(r.addresses).toHaveLength(BATCH);
    }
    const all = (await dnsCache()).filter((e) => e.endpoint === "shop/client-1");
    // Evicted but used: still open, shown held and over the limit, not counted in it.
    expect(all.find((e) => e.address === inUse)).toMatchObject({ heldByConnection: true, overLimit: true });
    const cache = all.filter((e) => !e.overLimit);
    expect(cache).toHaveLength(LIMITS.maxLearnedPerEndpoint);
    // The least recently answered go first: ready's and many's, then b1's oldest; b3's are all there.
    expect(cache.filter((e) => e.names.includes("b3.example.test"))).toHaveLength(BATCH);
    expect(
      cache.some((e) => e.names.includes("many.example.test") || e.names.includes("ready.example.test")),
    ).toBe(false);
    expect(cache.filter((e) => e.names.includes("b1.example.test"))).toHaveLength(
      BATCH_NAMES.length * BATCH - LIMITS.maxLearnedPerEndpoint,
    );
    const m = await metrics();
    expect(metric(m, 'meridian_dns_learned_evicted_total{limit="per-endpoint"}') - before).toBe(
      held + BATCH_NAMES.length * BATCH - LIMITS.maxLearnedPerEndpoint,
    );
    expect(metric(m, "meridian_dns_learned_entries")).toBe(LIMITS.maxLearnedPerEndpoint + 1);
    // The connection carried on through the eviction.
    const result = await stream.stop();
    expect(result.error).toBeNull();
    expect(result.received).toBe(result.sent);
    // Idle, it goes; evicted addresses are closed again in the datapath; the newest still connect on the first SYN.
    await until(
      "the evicted address leaves the cache once its connection is idle",
      async () => !(await dnsCache()).some((e) => e.address === inUse),
      10_000,
    );
    expect((await connect(batchAddress(3, BATCH))).ok).toBe(true);
    expect((await connect(inUse, 2_000)).ok).toBe(false);
    expect((await connect(manyAddress(MANY - 2), 2_000)).ok).toBe(false);
  });
});
