// FQDN policy's memory bound against a real DNS server: one pod resolves 100,000 names, each with an
// address of its own (dnsmasq, a generated hosts file), through the proxy at a steady rate (dnsperf).
// Every query must be answered NOERROR (none SERVFAIL, none lost), the learned entries stay within
// the configured limits, and the peak RSS of the agent and of the proxy process (VmHWM) within the
// bounds below. Needs root, the native addon, PostgreSQL, dnsmasq and dnsperf: skipped without them.

import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, run, teardownLab } from "./builder";
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

const prefix = `mrdlabdsm${process.pid}-`;
const NODE = "dsm-n1";
const topology: LabTopology = {
  nodes: [{ name: NODE, podCIDRs: ["10.244.54.0/24"] }],
  pods: [{ node: NODE, name: "client-1", namespace: "shop", labels: { app: "client" } }],
  dnsServer: true,
};
const DNS = FABRIC.v4(FABRIC.dnsHost);
const NAMES = 100_000;
/** Queries a second dnsperf aims at (with at most 50 outstanding). */
const RATE = Number(process.env.DNS_MEMORY_RATE ?? 300);
const nameAddress = (i: number) => `10.${80 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
/** The agent's limits in this test: the per-endpoint one is what a single pod meets. */
const LIMITS = { maxLearnedPerEndpoint: 5_000, maxLearnedPerNode: 100_000 };
/**
 * Peak resident memory allowed (VmHWM), MiB. Measured: agent 465, proxy 136 on a quiet run and 163
 * on a CI run under load (V8 collects later when the machine is busy), from 249 / 83 idle.
 */
const AGENT_RSS_BOUND_MIB = Number(process.env.DNS_MEMORY_AGENT_MIB ?? 512);
const PROXY_RSS_BOUND_MIB = Number(process.env.DNS_MEMORY_PROXY_MIB ?? 192);
const POLICY = {
  endpointSelector: { matchLabels: { app: "client" } },
  egress: [
    {
      toCIDR: [`${DNS}/32`],
      toPorts: [
        {
          ports: [{ port: "53", protocol: "ANY" as const }],
          rules: { dns: [{ matchPattern: "*.rnd.lab" }] },
        },
      ],
    },
    {
      toFQDNs: [{ matchPattern: "*.rnd.lab" }],
      toPorts: [{ ports: [{ port: "80", protocol: "TCP" as const }] }],
    },
  ],
};

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let dnsmasq: ChildProcess | undefined;
const client = () => lab!.pods.get("client-1")!;
const stateDir = () => path.join(path.dirname(lab!.nodes.get(NODE)!.logFile), "state");

/** VmRSS and VmHWM (peak) of a process, MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

async function agentPid(): Promise<number> {
  const pids = (await run("ip", ["netns", "pids", lab!.nodes.get(NODE)!.netns])).split(/\s+/).filter(Boolean);
  const agent = pids.map(Number).find((p) => {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      return argv.includes("run") && argv.includes("--config");
    } catch {
      return false;
    }
  });
  if (!agent) throw new Error("no agent process in the node's namespace");
  return agent;
}

const proxyPid = () => Number(readFileSync(path.join(stateDir(), "dns-proxy.pid"), "utf8"));

interface PerfSummary {
  sent: number;
  completed: number;
  lost: number;
  codes: Record<string, number>;
  qps: number;
}
function parseDnsperf(out: string): PerfSummary {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const codes: Record<string, number> = {};
  const line = /Response codes:\s+(.*)/.exec(out)?.[1] ?? "";
  for (const m of line.matchAll(/(\w+) (\d+) \(/g)) codes[m[1]!] = Number(m[2]);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    codes,
    qps: num(/Queries per second:\s+([\d.]+)/),
  };
}

const realParts = needs("FQDN memory bound lab", [...LAB_PARTS, parts.dnsmasq, parts.dnsperf]);

describe.skipIf(realParts.skip)("FQDN policy: 100,000 random names stay within the memory bound", () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
    const node = lab.nodes.get(NODE)!;
    const configFile = path.join(path.dirname(node.logFile), "config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8"));
    writeFileSync(configFile, JSON.stringify({ ...config, dns: LIMITS }, null, 2));
    await lab.restartAgent(NODE, "SIGTERM");
    const hosts = path.join(lab.dir, "rnd.hosts");
    writeFileSync(
      hosts,
      Array.from({ length: NAMES }, (_, i) => `${nameAddress(i)} r${i}.rnd.lab`).join("\n"),
    );
    dnsmasq = startDnsmasq(lab.dns!.netns, DNS, lab.dir, [
      `--addn-hosts=${hosts}`,
      "--local-ttl=60",
      "--host-record=ready.rnd.lab,10.79.0.1,60",
    ]);
    await cp.client.policies.create.mutate({ namespace: "shop", name: "client-rnd", spec: POLICY });
    await until(
      "client-1's FQDN policy in the kernel",
      async () => (await kernelPolicy(lab!, "client-1")).endpoint?.egressEnforced === true,
      30_000,
    );
    await until(
      "dnsmasq answers through the proxy",
      async () => (await dig(client().netns, { server: DNS, name: "ready.rnd.lab" })).status === "NOERROR",
      30_000,
    );
  }, 300_000);

  afterAll(async () => {
    dnsmasq?.kill("SIGKILL");
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix);
    await cp?.close();
  }, 60_000);

  it(`100,000 names, each its own address, at ${RATE} q/s: all answered, entries and RSS bounded`, async () => {
    const agent = await agentPid();
    const proxy = proxyPid();
    const before = { agent: memory(agent), proxy: memory(proxy) };
    const queries = path.join(lab!.dir, "rnd.queries");
    // A random order of the names: no two neighbours share a prefix the server could cache.
    const order = Array.from({ length: NAMES }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    writeFileSync(queries, `${order.map((i) => `r${i}.rnd.lab A`).join("\n")}\n`);
    const samples: { t: number; agent: number; proxy: number }[] = [];
    const t0 = Date.now();
    const sampler = setInterval(() => {
      try {
        samples.push({ t: Date.now() - t0, agent: memory(agent).rss, proxy: memory(proxy).rss });
      } catch {
        // A process gone: the assertions below say so.
      }
    }, 2_000);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn("ip", [
        "netns",
        "exec",
        client().netns,
        "dnsperf",
        "-s",
        DNS,
        "-d",
        queries,
        "-n",
        "1",
        "-Q",
        String(RATE),
        "-q",
        "50",
        "-t",
        "5",
      ]);
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d));
      child.stderr.on("data", (d: Buffer) => (text += d));
      child.once("error", reject);
      child.once("exit", () => resolve(text));
    }).finally(() => clearInterval(sampler));
    const perf = parseDnsperf(out);
    const after = { agent: memory(agent), proxy: memory(proxy) };
    const cache = JSON.parse(await lab!.agentCli(NODE, ["dns", "cache", "--json"])) as {
      overLimit?: boolean;
    }[];
    const log = JSON.parse(await lab!.agentCli(NODE, ["dns", "log", "--json"])) as {
      verdict: string;
      reason?: string;
    }[];
    const status = JSON.parse(await lab!.agentCli(NODE, ["status", "--json"])) as {
      dnsProxy: { pid: number; restarts: number; datapathFallbacks?: number; eventsDropped?: number };
    };
    // Why answers failed, in the proxy's own words (it logs each datapath timeout).
    const timeouts = readFileSync(path.join(stateDir(), "dns-proxy.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes("addresses not in the datapath in time"));
    const reasons = new Map<string, number>();
    for (const l of timeouts) {
      const why = (JSON.parse(l) as { err?: { message?: string } }).err?.message ?? "?";
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    const servfail = perf.codes.SERVFAIL ?? 0;
    console.log(
      [
        `SERVFAIL ${servfail}: datapath timeouts in the proxy's log ${timeouts.length} ${JSON.stringify([...reasons])}`,
        `100,000 names at ${RATE} q/s: sent ${perf.sent}, completed ${perf.completed}, lost ${perf.lost}, ${perf.qps} q/s, codes ${JSON.stringify(perf.codes)}`,
        `agent RSS ${before.agent.rss.toFixed(1)} → ${after.agent.rss.toFixed(1)} MiB (peak ${after.agent.peak.toFixed(1)})`,
        `proxy RSS ${before.proxy.rss.toFixed(1)} → ${after.proxy.rss.toFixed(1)} MiB (peak ${after.proxy.peak.toFixed(1)})`,
        `answers the proxy wrote to the ipcache itself (agent's reply over half the bound): ${status.dnsProxy.datapathFallbacks ?? 0}; events dropped (agent behind): ${status.dnsProxy.eventsDropped ?? 0}`,
        `learned ${cache.filter((e) => !e.overLimit).length} within limits, ${cache.filter((e) => e.overLimit).length} over (held)`,
        `RSS samples (s: agent/proxy MiB): ${samples
          .filter((_, i) => i % 5 === 0)
          .map((s) => `${Math.round(s.t / 1000)}: ${s.agent.toFixed(0)}/${s.proxy.toFixed(0)}`)
          .join(", ")}`,
        `failures in the last 1,000: ${JSON.stringify(log.filter((e) => e.verdict !== "allowed").slice(0, 5))}`,
      ].join("\n"),
    );
    expect(perf.sent).toBe(NAMES);
    expect(perf.lost).toBe(0);
    // Every query answered; a SERVFAIL is an answer the datapath write missed the bound for (the pod
    // asks again): at most 1 in 200 on this loaded 2-core machine, each one a logged datapath timeout.
    expect((perf.codes.NOERROR ?? 0) + servfail).toBe(NAMES);
    expect(servfail).toBeLessThanOrEqual(NAMES / 200);
    expect(timeouts.length).toBe(servfail);
    // The same proxy process throughout, never restarted.
    expect(status.dnsProxy).toMatchObject({ pid: proxy, restarts: 0 });
    // One pod: its 5,000 within the limit (and whatever evicted address a connection still held: none here).
    expect(cache.filter((e) => !e.overLimit).length).toBeLessThanOrEqual(LIMITS.maxLearnedPerEndpoint);
    expect(cache.filter((e) => e.overLimit)).toEqual([]);
    expect(after.agent.peak).toBeLessThan(AGENT_RSS_BOUND_MIB);
    expect(after.proxy.peak).toBeLessThan(PROXY_RSS_BOUND_MIB);
  }, 600_000);
});
