// Save → traffic changed, on the set-up `npm start` uses: the embedded database (PGlite over TCP,
// which drops LISTEN/NOTIFY), one API process, a lab node with a real agent and eBPF datapath.
// A prober inside the client pod connects to the server pod every 10 ms and reports each change
// between "connects" and "does not" with its time; a policy that closes the port is saved through
// the API, then deleted, and the time from each save to the change the prober sees is the figure.
//
// Baseline, measured in the same run: the same saves with the API's in-process announcement off,
// so the agents hear of a change only through the change feed's one-second poll (how every change
// reached them on the embedded database before).
//
//   sudo npx tsx bench/latency/run.ts [rounds=10]
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChangeFeed } from "@meridian/api";
import { createMeridianClient } from "@meridian/api/client";
import { seedDatabase } from "@meridian/api/seed";
import { startServer } from "@meridian/api/server";
import { setLocalAnnouncements } from "@meridian/api/testing";
import { createPrismaClient } from "@meridian/db";
import { startEmbeddedDatabase } from "@meridian/db/embedded";
import { deployMigrations } from "@meridian/db/migrations";
import { buildLab, teardownLab } from "../../e2e/lab/builder";

const rounds = Number(process.argv[2] ?? 10);
const PREFIX = `mrdlablat${process.pid}-`;
const PORT = 8080;

// Runs inside the server pod: accepts and closes; a client that hangs up first is no error.
const SERVER = `
const net = require("node:net");
net.createServer((c) => { c.on("error", () => {}); c.end("ok"); })
  .listen(Number(process.argv[1]), () => console.log("listening"));
`;

function startListener(netns: string): { stop(): void; ready: Promise<void> } {
  const child = spawn("ip", ["netns", "exec", netns, process.execPath, "-e", SERVER, String(PORT)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => String(d).includes("listening") && resolve());
    child.once("exit", (code) => reject(new Error(`the server pod's listener exited (${code})`)));
  });
  return { stop: () => child.kill("SIGKILL"), ready };
}

// Runs inside the client pod: one connect attempt every 10 ms, a line per change of outcome.
const PROBER = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
let last = null;
function once() {
  const s = net.connect({ host, port: Number(port) });
  const t = setTimeout(() => done(false), 40);
  function done(ok) { clearTimeout(t); s.destroy(); if (ok !== last) { last = ok; console.log((ok ? "OK " : "FAIL ") + Date.now()); } setTimeout(once, 10); }
  s.once("connect", () => done(true));
  s.once("error", () => done(false));
}
once();
`;

interface Prober {
  /** Resolves with the time of the next change to `ok` after `after`. */
  next(ok: boolean, after: number, timeoutMs?: number): Promise<number>;
  stop(): void;
}

function startProber(netns: string, host: string): Prober {
  const child: ChildProcess = spawn(
    "ip",
    ["netns", "exec", netns, process.execPath, "-e", PROBER, host, String(PORT)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const changes: { ok: boolean; at: number }[] = [];
  let buf = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const [word, at] = buf.slice(0, i).split(" ");
      buf = buf.slice(i + 1);
      changes.push({ ok: word === "OK", at: Number(at) });
    }
  });
  return {
    async next(ok, after, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = changes.find((c) => c.ok === ok && c.at >= after);
        if (hit) return hit.at;
        if (Date.now() > deadline)
          throw new Error(`traffic did not become ${ok ? "allowed" : "blocked"} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    stop: () => child.kill("SIGKILL"),
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), "meridian-latency-"));
  const embedded = await startEmbeddedDatabase({ dataDir, port: 20_000 + (process.pid % 10_000) });
  await deployMigrations(embedded.url);
  const db = createPrismaClient(embedded.url, { max: 10 });
  const feed = new ChangeFeed(embedded.url); // the one-second poll, as in npm start
  await feed.start();
  const api = await startServer({ db, changeFeed: feed });
  const seeded = await seedDatabase(db, { examples: false });
  const login = await createMeridianClient({ url: api.url }).auth.login.mutate({
    email: seeded.adminEmail,
    password: seeded.adminPassword!,
  });
  const admin = createMeridianClient({ url: api.url, token: login.sessionToken });
  let prober: Prober | undefined;
  let server: { stop(): void } | undefined;
  try {
    const lab = await buildLab(
      {
        nodes: [{ name: "lat-n1", podCIDRs: ["10.244.61.0/24"] }],
        pods: [
          { node: "lat-n1", name: "client", namespace: "bench", labels: { app: "client" } },
          { node: "lat-n1", name: "server", namespace: "bench", labels: { app: "server" } },
        ],
      },
      {
        prefix: PREFIX,
        controlPlane: {
          url: api.url,
          joinToken: async (node) => (await admin.joinTokens.create.mutate({ nodeName: node })).secret,
        },
        routesFromControlPlane: true,
      },
    );
    const client = lab.pods.get("client")!;
    const target = lab.pods.get("server")!;
    const listener = startListener(target.netns);
    server = listener;
    await listener.ready;
    prober = startProber(client.netns, target.ipv4!);
    await prober.next(true, 0, 60_000);

    const results: Record<string, { block: number[]; allow: number[] }> = {};
    for (const mode of ["in-process announcement", "poll only (before)"] as const) {
      setLocalAnnouncements(mode === "in-process announcement");
      const r: { block: number[]; allow: number[] } = { block: [], allow: [] };
      results[mode] = r;
      for (let i = 0; i < rounds; i++) {
        const t0 = Date.now();
        const p = await admin.policies.create.mutate({
          namespace: "bench",
          name: `close-${i}`,
          spec: {
            endpointSelector: { matchLabels: { app: "server" } },
            ingress: [{ fromEndpoints: [{ matchLabels: { app: "nobody" } }] }],
          },
        });
        r.block.push((await prober.next(false, t0)) - t0);
        const t1 = Date.now();
        await admin.policies.delete.mutate({ id: p.id, version: p.version });
        r.allow.push((await prober.next(true, t1)) - t1);
        // Let the poll's phase drift between rounds, as saves do in real use.
        await new Promise((res) => setTimeout(res, 137));
      }
    }
    const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5)} ms, p95 ${quantile(xs, 0.95)} ms`;
    const now = results["in-process announcement"]!;
    const before = results["poll only (before)"]!;
    console.log(`save → traffic changed, embedded database, ${rounds} rounds each way`);
    for (const [mode, r] of Object.entries(results)) {
      console.log(`  ${mode.padEnd(24)} closing: ${fmt(r.block)}; opening: ${fmt(r.allow)}`);
    }
    const all = (r: { block: number[]; allow: number[] }) => [...r.block, ...r.allow];
    console.log(
      `  ratio (p50, now ÷ before): ${(quantile(all(now), 0.5) / quantile(all(before), 0.5)).toFixed(2)}`,
    );
  } finally {
    prober?.stop();
    server?.stop();
    await teardownLab(PREFIX).catch(() => {});
    await api.close();
    await feed.stop();
    await db.$disconnect();
    await embedded.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
