// DNS through the FQDN proxy vs straight to the server, in the same run: dnsperf (Debian) from a
// pod whose policy has DNS rules (its DNS is redirected to the node's proxy) and, as the baseline,
// from a pod no policy selects (its DNS goes straight to the same dnsmasq). Then the answer →
// datapath time: distinct names with distinct addresses at 30 queries/s (Cilium's published load),
// read from the proxy's own per-query record (`meridian-agent dns log`).
//
// Same set-up as `npm start`: the embedded database, one API process, a lab node with a real agent
// and the eBPF datapath.
//
//   sudo npx tsx bench/dns/run.ts [seconds=5]
import { type ChildProcess, execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChangeFeed } from "@meridian/api";
import { createMeridianClient } from "@meridian/api/client";
import { seedDatabase } from "@meridian/api/seed";
import { startServer } from "@meridian/api/server";
import { createPrismaClient } from "@meridian/db";
import { startEmbeddedDatabase } from "@meridian/db/embedded";
import { deployMigrations } from "@meridian/db/migrations";
import { buildLab, teardownLab } from "../../e2e/lab/builder";
import { startDnsmasq } from "../../e2e/lab/dnsmasq";

const seconds = Number(process.argv[2] ?? 5);
const PREFIX = `mrdlabdns${process.pid}-`;
const DNS = "10.99.0.53";
const DISTINCT = 200;

function run(argv: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      argv[0]!,
      argv.slice(1),
      { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${argv.slice(0, 6).join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

interface PerfResult {
  qps: number;
  completed: number;
  lost: number;
  latenciesMs: number[];
}

async function dnsperf(netns: string, file: string, args: string[]): Promise<PerfResult> {
  const out = await run(["ip", "netns", "exec", netns, "dnsperf", "-s", DNS, "-d", file, "-v", ...args]);
  const latenciesMs = out
    .split("\n")
    .filter((l) => l.startsWith("> "))
    .map((l) => Number(l.trim().split(/\s+/).pop()) * 1000)
    .filter((x) => Number.isFinite(x));
  return {
    qps: Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    completed: Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0),
    lost: Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0),
    latenciesMs,
  };
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "meridian-bench-dns-"));
  const embedded = await startEmbeddedDatabase({
    dataDir: path.join(dir, "db"),
    port: 20_000 + (process.pid % 10_000),
  });
  await deployMigrations(embedded.url);
  const db = createPrismaClient(embedded.url, { max: 10 });
  const feed = new ChangeFeed(embedded.url);
  await feed.start();
  const api = await startServer({ db, changeFeed: feed });
  const seeded = await seedDatabase(db, { examples: false });
  const login = await createMeridianClient({ url: api.url }).auth.login.mutate({
    email: seeded.adminEmail,
    password: seeded.adminPassword!,
  });
  const admin = createMeridianClient({ url: api.url, token: login.sessionToken });
  let dnsmasq: ChildProcess | undefined;
  try {
    const lab = await buildLab(
      {
        nodes: [{ name: "dns-n1", podCIDRs: ["10.244.71.0/24"] }],
        pods: [
          { node: "dns-n1", name: "proxied", namespace: "bench", labels: { app: "proxied" } },
          { node: "dns-n1", name: "direct", namespace: "bench", labels: { app: "direct" } },
        ],
        dnsServer: true,
      },
      {
        prefix: PREFIX,
        controlPlane: {
          url: api.url,
          joinToken: async (node) => (await admin.joinTokens.create.mutate({ nodeName: node })).secret,
        },
      },
    );
    const records = Array.from(
      { length: DISTINCT },
      (_, i) => `--host-record=n${i}.fresh.test,10.99.${2 + (i >> 8)}.${i & 255},300`,
    );
    dnsmasq = startDnsmasq(lab.dns!.netns, DNS, dir, [
      "--cache-size=0",
      "--address=/load.test/10.99.1.10",
      ...records,
    ]);
    await admin.policies.create.mutate({
      namespace: "bench",
      name: "proxied-dns",
      spec: {
        endpointSelector: { matchLabels: { app: "proxied" } },
        egress: [
          {
            toCIDR: [`${DNS}/32`],
            toPorts: [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*" }] } }],
          },
          {
            toFQDNs: [{ matchPattern: "*.load.test" }, { matchPattern: "*.fresh.test" }],
            toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }],
          },
        ],
      },
    });
    const proxied = lab.pods.get("proxied")!;
    const direct = lab.pods.get("direct")!;
    // Wait until the proxy answers for the proxied pod (its policy and redirect are in force).
    for (let i = 0; ; i++) {
      const log = JSON.parse(await lab.agentCli("dns-n1", ["dns", "log", "--json"])) as unknown[];
      if (log.length > 0) break;
      await run([
        "ip",
        "netns",
        "exec",
        proxied.netns,
        "dig",
        `@${DNS}`,
        "warm.load.test",
        "+time=1",
        "+tries=1",
      ]).catch(() => "");
      if (i > 100) throw new Error("the DNS proxy never saw the proxied pod's queries");
    }
    const loadFile = path.join(dir, "load.txt");
    writeFileSync(loadFile, `${Array.from({ length: 1000 }, (_, i) => `q${i}.load.test A`).join("\n")}\n`);
    const args = ["-l", String(seconds), "-q", "50", "-c", "4"];
    const directRun = await dnsperf(direct.netns, loadFile, args);
    const proxiedRun = await dnsperf(proxied.netns, loadFile, args);
    const fmt = (r: PerfResult) =>
      `${r.qps.toFixed(0)} q/s, p50 ${quantile(r.latenciesMs, 0.5).toFixed(3)} ms, p99 ${quantile(r.latenciesMs, 0.99).toFixed(3)} ms, lost ${r.lost}/${r.completed + r.lost}`;
    console.log(`dnsperf, ${seconds} s each, 4 clients, 50 outstanding, same dnsmasq, same run`);
    console.log(`  direct   ${fmt(directRun)}`);
    console.log(`  proxied  ${fmt(proxiedRun)}`);
    console.log(
      `  ratio: qps ${(proxiedRun.qps / directRun.qps).toFixed(2)} (aim ≥ 0.8), added p99 ${(quantile(proxiedRun.latenciesMs, 0.99) - quantile(directRun.latenciesMs, 0.99)).toFixed(3)} ms (aim ≤ 1 ms)`,
    );

    // Answer → datapath: every name a new address, so every answer writes the ipcache.
    const freshFile = path.join(dir, "fresh.txt");
    writeFileSync(
      freshFile,
      `${Array.from({ length: DISTINCT }, (_, i) => `n${i}.fresh.test A`).join("\n")}\n`,
    );
    await dnsperf(proxied.netns, freshFile, ["-n", "1", "-Q", "30", "-c", "1"]);
    const log = JSON.parse(await lab.agentCli("dns-n1", ["dns", "log", "--json"])) as {
      name?: string;
      datapathMs?: number;
      latencyMs: number;
    }[];
    const fresh = log.filter((e) => e.name?.endsWith(".fresh.test") && e.datapathMs !== undefined);
    const dp = fresh.map((e) => e.datapathMs!);
    const total = fresh.map((e) => e.latencyMs);
    console.log(
      `answer → datapath (${dp.length} new addresses at 30 q/s): p50 ${quantile(dp, 0.5).toFixed(3)} ms, p99 ${quantile(dp, 0.99).toFixed(3)} ms (aim p99 < 1 ms); proxy total p50 ${quantile(total, 0.5).toFixed(3)} ms, p99 ${quantile(total, 0.99).toFixed(3)} ms`,
    );
  } finally {
    dnsmasq?.kill("SIGKILL");
    await teardownLab(PREFIX).catch(() => {});
    await api.close();
    await feed.stop();
    await db.$disconnect();
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
