// Sync propagation benchmark: N simulated agents hold desired-state subscriptions over real
// HTTP (SSE) to one API process; an operator changes a policy that every node's state
// depends on, and we time until each agent has received the new revision and acknowledged
// it (heartbeat with appliedRevision). The single-agent run in the same script is the baseline.
// With BENCH_CHURN=R, each size runs again while agents report R pod starts and stops per second
// (inventory, not intent: no revision, only the reporting node's state changes), and the p99 is
// compared with the run without churn.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5439/postgres [BENCH_CHURN=50] npx tsx bench/sync/run.ts [N...]
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createMeridianClient } from "@meridian/api/client";
import { newSecret } from "@meridian/api/testing";
import { createTestDatabase } from "@meridian/db/testing";

const here = path.dirname(fileURLToPath(import.meta.url));
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const SIZES = sizes.length ? sizes : [200, 1000];
const CHANGES = Number(process.env.BENCH_CHANGES ?? 5);
const CHURN = Number(process.env.BENCH_CHURN ?? 0);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function startApi(databaseUrl: string): Promise<{ url: string; child: ChildProcess }> {
  const prof = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...prof, "--import", "tsx", path.join(here, "server.ts")], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const rl = createInterface({ input: child.stdout! });
  const [line] = (await once(rl, "line")) as [string];
  return { url: line.trim(), child };
}

interface Trial {
  n: number;
  received: number[];
  acked: number[];
  /** Pod starts and stops reported during the trial, and how many of those reports failed. */
  churned: number;
  churnFailed: number;
  /** The distinct reasons churn reports failed, with their counts. */
  churnErrors: Map<string, number>;
  /** Desired-state events received during churn, by type. */
  events: Map<string, number>;
}

async function trial(n: number, churnPerSecond = 0): Promise<Trial> {
  const tdb = await createTestDatabase();
  const db = tdb.prisma;
  // Inventory straight into the database: the benchmark is about propagation, not joining.
  const admin = await db.user.create({
    data: { email: "bench@meridian.local", role: "admin", passwordHash: "x" },
  });
  const tok = newSecret("tok");
  await db.apiToken.create({
    data: { name: "bench", role: "operator", tokenHash: tok.hash, prefix: tok.prefix, createdById: admin.id },
  });
  const creds = Array.from({ length: n }, () => newSecret("node"));
  await db.node.createMany({
    data: creds.map((c, i) => ({
      name: `node-${i}`,
      joinState: "joined" as const,
      credentialHash: c.hash,
      addresses: [`192.168.${i >> 8}.${i & 255}/16`],
      podCIDRv4: [`10.${100 + (i >> 8)}.${i & 255}.0/24`],
    })),
  });
  const identity = await db.identity.create({
    data: {
      labelsKey: "app=bench;io.kubernetes.pod.namespace=bench",
      labels: { app: "bench", "io.kubernetes.pod.namespace": "bench" },
    },
  });
  const nodes = await db.node.findMany({ select: { id: true, name: true } });
  await db.endpoint.createMany({
    data: nodes.map((node, i) => ({
      nodeId: node.id,
      namespace: "bench",
      name: `pod-${i}`,
      labels: { app: "bench" },
      ipv4: `10.${100 + (i >> 8)}.${i & 255}.10`,
      identityNumber: identity.number,
    })),
  });
  await db.revision.create({ data: { authorKind: "system", authorName: "bench", message: "inventory" } });

  const api = await startApi(tdb.url);
  const operator = createMeridianClient({ url: api.url, token: tok.secret });
  const policy = await operator.policies.create.mutate({
    namespace: "",
    name: "bench",
    spec: { endpointSelector: { matchLabels: { app: "bench" } } },
  });

  let target = Number.POSITIVE_INFINITY;
  let changedAt = 0;
  const received: number[] = new Array(n).fill(Number.NaN);
  const acked: number[] = new Array(n).fill(Number.NaN);
  let ready = 0;
  // Events the agents received while pods churned, by type: what one pod start costs the stream.
  const events = new Map<string, number>();
  let churning = false;
  const heartbeatErrors = new Map<string, number>();
  const subscribe = (c: { secret: string }, i: number) => {
    const client = createMeridianClient({ url: api.url, token: c.secret });
    let first = true;
    return client.agent.desiredState.subscribe(undefined, {
      onData: (env) => {
        const e = ((env as { data?: unknown }).data ?? env) as { revision: number; type?: string };
        if (churning) events.set(e.type ?? "?", (events.get(e.type ?? "?") ?? 0) + 1);
        if (first) {
          first = false;
          ready++;
        }
        if (e.revision >= target && Number.isNaN(received[i]!)) {
          received[i] = performance.now() - changedAt;
          // A failed acknowledgement is counted (the agent would retry with its next heartbeat);
          // left unhandled it ended the whole run.
          client.agent.heartbeat.mutate({ appliedRevision: e.revision }).then(
            () => {
              acked[i] = performance.now() - changedAt;
            },
            (err: Error) => {
              const why = `heartbeat: ${err.message.slice(0, 100)}`;
              heartbeatErrors.set(why, (heartbeatErrors.get(why) ?? 0) + 1);
            },
          );
        }
      },
      onError: (err) => console.error(`agent ${i}:`, err.message),
    });
  };
  // Agents arrive in waves, as a DaemonSet rollout would bring them, not all in one instant.
  const subs: ReturnType<typeof subscribe>[] = [];
  const WAVE = 100;
  for (let start = 0; start < n; start += WAVE) {
    for (let i = start; i < Math.min(n, start + WAVE); i++) subs.push(subscribe(creds[i]!, i));
    while (ready < Math.min(n, start + WAVE)) await new Promise((r) => setTimeout(r, 20));
  }

  // Pod churn: node i reports its pod plus a churn pod that comes and goes (labels no policy
  // selects, addresses inside its own PodCIDR), at the given rate across the cluster.
  let churned = 0;
  let churnFailed = 0;
  const churnErrors = new Map<string, number>();
  churning = churnPerSecond > 0;
  const churnTimer =
    churnPerSecond > 0
      ? setInterval(() => {
          const i = Math.floor(Math.random() * n);
          const agent = createMeridianClient({ url: api.url, token: creds[i]!.secret });
          const base = `10.${100 + (i >> 8)}.${i & 255}`;
          const withChurn = churned % 2 === 0;
          churned++;
          agent.agent.reportEndpoints
            .mutate({
              endpoints: [
                { namespace: "bench", name: `pod-${i}`, labels: { app: "bench" }, ipv4: `${base}.10` },
                ...(withChurn
                  ? [{ namespace: "bench", name: `churn-${i}`, labels: { app: "churn" }, ipv4: `${base}.20` }]
                  : []),
              ],
            })
            .catch((err: Error) => {
              churnFailed++;
              const why = err.message.slice(0, 120);
              churnErrors.set(why, (churnErrors.get(why) ?? 0) + 1);
            });
        }, 1000 / churnPerSecond)
      : undefined;

  const allReceived: number[] = [];
  const allAcked: number[] = [];
  let version = policy.version;
  for (let k = 0; k < CHANGES; k++) {
    received.fill(Number.NaN);
    acked.fill(Number.NaN);
    target = Number.POSITIVE_INFINITY;
    changedAt = performance.now();
    // The change alters every node's compiled state (the policy selects a pod on each node).
    const upd = await operator.policies.update.mutate({
      id: policy.id,
      version,
      spec: {
        endpointSelector: { matchLabels: { app: "bench" } },
        ingress: [{ fromCIDR: [`198.51.100.${k}/32`] }],
      },
    });
    version = upd.version;
    target = upd.revision!;
    const deadline = performance.now() + 60_000;
    while (acked.some(Number.isNaN) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    allReceived.push(...received.filter((x) => !Number.isNaN(x)));
    allAcked.push(...acked.filter((x) => !Number.isNaN(x)));
    const missing = acked.filter(Number.isNaN).length;
    if (missing) console.error(`change ${k}: ${missing} of ${n} agents did not acknowledge within 60 s`);
    for (const [why, count] of heartbeatErrors) console.error(`change ${k}: ${count}× ${why}`);
    heartbeatErrors.clear();
    await new Promise((r) => setTimeout(r, 200));
  }
  if (churnTimer) clearInterval(churnTimer);
  churning = false;
  for (const s of subs) s.unsubscribe();
  api.child.kill("SIGTERM");
  await once(api.child, "exit");
  await tdb.drop();
  return {
    n,
    received: allReceived.sort((a, b) => a - b),
    acked: allAcked.sort((a, b) => a - b),
    churned,
    churnFailed,
    churnErrors,
    events,
  };
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`sync propagation: ${CHANGES} policy changes per run; times from the operator's update call`);
const baseline = await trial(1);
const base = percentile(baseline.acked, 50);
console.log(
  `baseline (1 agent): received p50 ${fmt(percentile(baseline.received, 50))}, acknowledged p50 ${fmt(base)}`,
);
for (const n of SIZES) {
  const t = await trial(n);
  const p50 = percentile(t.acked, 50);
  const p99 = percentile(t.acked, 99);
  console.log(
    `${n} agents: received first ${fmt(t.received[0] ?? Number.NaN)} p50 ${fmt(percentile(t.received, 50))} p99 ${fmt(percentile(t.received, 99))}; ` +
      `acknowledged p50 ${fmt(p50)} p99 ${fmt(p99)} max ${fmt(t.acked.at(-1) ?? Number.NaN)}; ` +
      `p99 ÷ baseline ${(p99 / base).toFixed(1)}×; aim p99 ≤ 1000 ms: ${p99 <= 1000 ? "met" : "not met"}`,
  );
  if (CHURN > 0) {
    const c = await trial(n, CHURN);
    const cp99 = percentile(c.acked, 99);
    console.log(
      `${n} agents with ${CHURN} pod starts/stops per second (${c.churned} reported, ${c.churnFailed} failed): ` +
        `received p99 ${fmt(percentile(c.received, 99))}; acknowledged p50 ${fmt(percentile(c.acked, 50))} p99 ${fmt(cp99)}; ` +
        `p99 with churn ÷ without ${(cp99 / p99).toFixed(2)}`,
    );
    console.log(
      `  events to agents during churn: ${[...c.events].map(([t, k]) => `${t} ${k}`).join(", ")} ` +
        `(${((c.events.get("delta") ?? 0) / Math.max(1, c.churned)).toFixed(1)} deltas per report; ${CHANGES} changes × ${n} agents are the policy's)`,
    );
    for (const [why, count] of c.churnErrors) console.log(`  churn report failed ${count}×: ${why}`);
  }
}
process.exit(0);
