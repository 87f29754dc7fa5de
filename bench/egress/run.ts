// Egress gateway on real traffic, through the lab (real control plane on PostgreSQL, real agents
// and eBPF datapath): TCP throughput (iperf3) and new connections per second from a selected pod
// through the gateway (steered to ega-n2 over the fabric, SNAT there, reverse NAT on the way back)
// ÷ the same from an unselected pod on the same node, routed straight out (no egress policy on
// its path), in the same run, rounds alternating. Then failover time over repeated failures of the
// active gateway (its agent killed): from the kill to the first new connection through the
// standby with its egress IP, p50 / p95 / max.
//
//   MERIDIAN_TEST_SERVER_URL=postgresql://postgres@127.0.0.1:5439/postgres \
//     sudo npx tsx bench/egress/run.ts [rounds=3] [seconds=3] [failovers=10]
import { type ChildProcess, spawn } from "node:child_process";
import { buildLab, type Lab, teardownLab } from "../../e2e/lab/builder";
import { kernelPolicy, startControlPlane, until } from "../../e2e/lab/control-plane-harness";
import { startConnectLoop } from "../../e2e/lab/traffic";

const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 3);
const failovers = Number(process.argv[4] ?? 10);
const PREFIX = `mrdlabegb${process.pid}-`;
const CPS_PORT = 8090;
const A = { node: "ega-n2", ip: "10.99.0.2" };
const B = { node: "ega-n3", ip: "10.99.0.3" };

// Accepts and closes at once: a connection is a SYN, its answer, the reply and the close.
const ACCEPT_SERVER = `
const net = require("node:net");
net.createServer((c) => { c.on("error", () => {}); c.end(c.remoteAddress.replace(/^::ffff:/, "")); })
  .listen(Number(process.argv[1]), () => console.log("listening"));
`;

// Opens connections back to back from 8 workers for the given seconds; prints the count and the
// sources the server named (all must be one address).
const CPS_CLIENT = `
const net = require("node:net");
const [host, port, seconds] = process.argv.slice(1);
const end = Date.now() + Number(seconds) * 1000;
let ok = 0, failed = 0; const seen = new Set();
const one = () => {
  if (Date.now() >= end) return Promise.resolve();
  return new Promise((resolve) => {
    let data = "";
    const c = net.connect({ host, port: Number(port) });
    const t = setTimeout(() => { failed++; c.destroy(); resolve(); }, 2000);
    c.on("data", (d) => { data += d; });
    c.on("end", () => { clearTimeout(t); ok++; seen.add(data.trim()); resolve(); });
    c.on("error", () => { clearTimeout(t); failed++; resolve(); });
  }).then(one);
};
Promise.all(Array.from({ length: 8 }, one)).then(() => {
  console.log(JSON.stringify({ ok, failed, seen: [...seen] }));
});
`;

function spawnIn(netns: string, argv: string[]): ChildProcess {
  return spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", "pipe", "inherit"] });
}

function output(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d));
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`exited ${code}: ${out}`))));
  });
}

async function waitFor(child: ChildProcess, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${text}"`)), 10_000);
    child.stdout?.on("data", (d: Buffer) => {
      if (String(d).includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? Number.NaN;

async function iperf(lab: Lab, pod: string, host: string): Promise<number> {
  const out = await output(
    spawnIn(lab.pods.get(pod)!.netns, ["iperf3", "-c", host, "-t", String(seconds), "-J"]),
  );
  return (
    (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received
      .bits_per_second / 1e9
  );
}

async function cps(lab: Lab, pod: string, host: string): Promise<{ perSecond: number; seen: string[] }> {
  const out = await output(
    spawnIn(lab.pods.get(pod)!.netns, [
      process.execPath,
      "-e",
      CPS_CLIENT,
      host,
      String(CPS_PORT),
      String(seconds),
    ]),
  );
  const r = JSON.parse(out) as { ok: number; failed: number; seen: string[] };
  if (r.failed > 0) console.error(`  ${pod}: ${r.failed} connections failed`);
  return { perSecond: r.ok / seconds, seen: r.seen };
}

async function main() {
  const cp = await startControlPlane();
  const children: ChildProcess[] = [];
  let lab: Lab | undefined;
  try {
    lab = await buildLab(
      {
        nodes: [
          { name: "ega-n1", podCIDRs: ["10.244.61.0/24"] },
          { name: A.node, podCIDRs: ["10.244.62.0/24"] },
          { name: B.node, podCIDRs: ["10.244.63.0/24"] },
        ],
        pods: [
          { node: "ega-n1", name: "sel-1", namespace: "legacy", labels: { app: "billing" } },
          { node: "ega-n1", name: "plain-1", namespace: "legacy", labels: { app: "web" } },
        ],
        externals: ["ega-x1"],
      },
      {
        prefix: PREFIX,
        controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
        routesFromControlPlane: true,
      },
    );
    const x1 = lab.externals.get("ega-x1")!;
    for (const p of ["sel-1", "plain-1"])
      await until(
        `${p} has its identity`,
        async () => ((await kernelPolicy(lab!, p)).endpoint?.identity ?? 5) !== 5,
        60_000,
      );
    const admin = await cp.h.as("admin");
    for (const n of (await admin.nodes.list({})).items.filter((x) => x.name !== "ega-n1"))
      await admin.nodes.update({ id: n.id, version: n.version, labels: { ...n.labels, egress: "gw" } });
    await cp.client.egress.create.mutate({
      name: "bench",
      spec: {
        selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
        destinationCIDRs: ["10.99.0.192/26"],
        gateways: [{ nodeSelector: { matchLabels: { egress: "gw" } } }],
      },
    });
    const activeOn = async (node: string) =>
      (
        JSON.parse(await lab!.agentCli(node, ["egress", "--json"])) as {
          policies: { activeGateway: string | null }[];
        }
      ).policies[0]?.activeGateway ?? null;
    for (const node of ["ega-n1", A.node, B.node])
      await until(`${node} applied the policy`, async () => (await activeOn(node)) === A.node, 60_000);

    const iperfServer = spawnIn(x1.netns, ["iperf3", "-s"]);
    const acceptServer = spawnIn(x1.netns, [process.execPath, "-e", ACCEPT_SERVER, String(CPS_PORT)]);
    children.push(iperfServer, acceptServer);
    await waitFor(acceptServer, "listening");
    await new Promise((r) => setTimeout(r, 500));

    const gbps = { egress: [] as number[], direct: [] as number[] };
    const rate = { egress: [] as number[], direct: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      gbps.direct.push(await iperf(lab, "plain-1", x1.ipv4));
      gbps.egress.push(await iperf(lab, "sel-1", x1.ipv4));
      const d = await cps(lab, "plain-1", x1.ipv4);
      const e = await cps(lab, "sel-1", x1.ipv4);
      // The figures are only worth something if the paths are what they claim.
      if (e.seen.join() !== A.ip) throw new Error(`egress connections arrived from ${e.seen.join(", ")}`);
      if (d.seen.join() !== lab.pods.get("plain-1")!.ipv4)
        throw new Error(`direct from ${d.seen.join(", ")}`);
      rate.direct.push(d.perSecond);
      rate.egress.push(e.perSecond);
      console.log(
        `round ${i + 1}: iperf3 ${gbps.egress.at(-1)!.toFixed(2)} / ${gbps.direct.at(-1)!.toFixed(2)} Gbit/s; ` +
          `connections ${e.perSecond.toFixed(0)} / ${d.perSecond.toFixed(0)} per s (egress / direct)`,
      );
    }

    const times: number[] = [];
    for (let i = 0; i < failovers; i++) {
      await until("steering through A", async () => (await activeOn("ega-n1")) === A.node, 30_000);
      const loop = await startConnectLoop(lab.pods.get("sel-1")!.netns, x1.ipv4, CPS_PORT, 20, 500);
      await until(
        "connections through A",
        async () => loop.attempts().filter((a) => a.reply === A.ip).length >= 5,
        5_000,
      );
      const at = Date.now();
      await lab.stopAgent(A.node);
      const viaB = await until(
        "a connection through B",
        async () => loop.attempts().find((a) => a.start >= at && a.ok && a.reply === B.ip),
        10_000,
      );
      const attempts = await loop.stop();
      const leaked = attempts.filter((a) => a.ok && a.reply !== A.ip && a.reply !== B.ip);
      if (leaked.length) throw new Error(`connections left with ${leaked.map((a) => a.reply).join(", ")}`);
      times.push(viaB.end - at);
      console.log(`failover ${i + 1}: ${times.at(-1)} ms`);
      await lab.startAgent(A.node);
    }

    const ratio = (xs: number[], ys: number[]) => (median(xs) / median(ys)).toFixed(2);
    console.log(
      JSON.stringify(
        {
          throughputGbps: {
            egress: gbps.egress,
            direct: gbps.direct,
            ratio: Number(ratio(gbps.egress, gbps.direct)),
          },
          connectionsPerSecond: {
            egress: rate.egress.map(Math.round),
            direct: rate.direct.map(Math.round),
            ratio: Number(ratio(rate.egress, rate.direct)),
          },
          failoverMs: times.length
            ? { runs: times.length, p50: median(times), p95: pct(times, 95), max: Math.max(...times) }
            : null,
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await lab?.teardown().catch(() => undefined);
    await teardownLab(PREFIX);
    await cp.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
