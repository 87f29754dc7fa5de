// Cilium import at its maximum size while a reader polls: a viewer calls `policies.list` (a page
// of 20) at a fixed rate against one API process over HTTP while an operator imports the maximum
// number of objects (MAX_IMPORT_OBJECTS CiliumNetworkPolicies) as a dry run, as new objects, and
// as updates of those objects. Before each import the reader runs alone for QUIET_MS: that is the
// baseline, measured under the same machine load as the import that follows it. It prints the
// reader's p50/p99 alone and during each kind of import, the p99 ratio, and the import times.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5439/postgres npx tsx bench/import/run.ts
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { MAX_IMPORT_OBJECTS } from "@meridian/api";
import { createMeridianClient } from "@meridian/api/client";
import { newSecret } from "@meridian/api/testing";
import { createTestDatabase } from "@meridian/db/testing";

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const OBJECTS = Number(process.env.BENCH_OBJECTS ?? MAX_IMPORT_OBJECTS);
const READ_EVERY_MS = 50;
const QUIET_MS = 2_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function startApi(databaseUrl: string): Promise<{ url: string; child: ChildProcess }> {
  // The sync benchmark's API process: one replica on DATABASE_URL, nothing else in its event loop.
  const prof = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(
    process.execPath,
    [...prof, "--import", "tsx", path.join(here, "..", "sync", "server.ts")],
    {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const rl = createInterface({ input: child.stdout! });
  const [line] = (await once(rl, "line")) as [string];
  return { url: line.trim(), child };
}

function policiesYaml(namespace: string, port: number): string {
  return Array.from(
    { length: OBJECTS },
    (_, i) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web-${i}
  namespace: ${namespace}
spec:
  endpointSelector:
    matchLabels: {app: web-${i}}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: lb}
    toPorts:
    - ports:
      - {port: "${port}", protocol: TCP}
  egress:
  - toCIDR: ["10.${i % 250}.0.0/16"]
`,
  ).join("---\n");
}

const tdb = await createTestDatabase();
const db = tdb.prisma;
const admin = await db.user.create({
  data: { email: "bench@meridian.local", role: "admin", passwordHash: "x" },
});
const token = async (role: "operator" | "viewer") => {
  const t = newSecret("tok");
  await db.apiToken.create({
    data: { name: role, role, tokenHash: t.hash, prefix: t.prefix, createdById: admin.id },
  });
  return t.secret;
};
const operatorSecret = await token("operator");
const viewerSecret = await token("viewer");
// Something for the reader to read: a page of policies in a namespace of its own.
await db.networkPolicy.createMany({
  data: Array.from({ length: 200 }, (_, i) => ({
    namespace: "read",
    name: `read-${i}`,
    spec: { enabled: true, endpointSelector: { matchLabels: { app: `read-${i}` } } },
  })),
});

const api = await startApi(tdb.url);
const operator = createMeridianClient({ url: api.url, token: operatorSecret });
const viewer = createMeridianClient({ url: api.url, token: viewerSecret });

// Open loop: a read is sent every READ_EVERY_MS whether or not the last one has answered, and its
// latency counts from when it was due, so a stalled server cannot hide behind a slow reader.
const samples: { due: number; ms: number }[] = [];
let reading = true;
let outstanding = 0;
const reader = (async () => {
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let k = 0; reading; k++) {
    const due = start + k * READ_EVERY_MS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    outstanding++;
    pending.push(
      viewer.policies.list
        .query({ namespace: "read", limit: 20 })
        .then(
          () => void samples.push({ due, ms: performance.now() - due }),
          (err: Error) => console.error("reader:", err.message),
        )
        .finally(() => outstanding--),
    );
  }
  await Promise.all(pending);
})();

await new Promise((r) => setTimeout(r, 2_000)); // warm-up, not counted

const quiet: { from: number; to: number }[] = [];
const windows: Record<string, { from: number; to: number; ms: number }[]> = {
  "dry run": [],
  create: [],
  update: [],
};
async function timed(phase: string, call: () => Promise<unknown>) {
  // The quiet window starts once the reads queued behind the last import have answered.
  while (outstanding > 1) await new Promise((r) => setTimeout(r, 10));
  const calm = performance.now();
  await new Promise((r) => setTimeout(r, QUIET_MS));
  quiet.push({ from: calm, to: performance.now() });
  const from = performance.now();
  try {
    await call();
  } catch (err) {
    console.error(`${phase}:`, (err as Error).message.slice(0, 300));
  }
  const to = performance.now();
  windows[phase]!.push({ from, to, ms: to - from });
}
for (let r = 0; r < RUNS; r++) {
  const yaml = policiesYaml(`bench-${r}`, 80);
  const changed = policiesYaml(`bench-${r}`, 8080);
  await timed("dry run", () => operator.cilium.import.mutate({ yaml, dryRun: true }));
  await timed("create", () => operator.cilium.import.mutate({ yaml }));
  await timed("update", () => operator.cilium.import.mutate({ yaml: changed }));
}
await new Promise((r) => setTimeout(r, 1_000)); // let the reads due during the last import answer
reading = false;
await reader;

const within = (from: number, to: number) =>
  samples.filter((s) => s.due >= from && s.due <= to).map((s) => s.ms);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
// A read counts for the window it was due in: one due just before an import starts and answered
// during it is charged to the quiet window, which can only make the baseline look worse.
const base = sorted(quiet.flatMap((w) => within(w.from, w.to)));
const baseP99 = percentile(base, 99);
console.log(
  `import benchmark: ${OBJECTS} CiliumNetworkPolicies per import, ${RUNS} runs per phase; reader polls policies.list every ${READ_EVERY_MS} ms`,
);
console.log(
  `reader alone (${QUIET_MS} ms before each import): ${base.length} reads, p50 ${fmt(percentile(base, 50))}, p99 ${fmt(baseP99)}`,
);
for (const [phase, ws] of Object.entries(windows)) {
  const during = sorted(ws.flatMap((w) => within(w.from, w.to)));
  const p99 = percentile(during, 99);
  const times = ws.map((w) => (w.ms / 1000).toFixed(2)).join(", ");
  console.log(
    `${phase}: import ${times} s; reader during: ${during.length} reads, p50 ${fmt(percentile(during, 50))}, p99 ${fmt(p99)}, max ${fmt(during.at(-1) ?? Number.NaN)}; p99 ÷ alone ${(p99 / baseP99).toFixed(2)}×`,
  );
}
api.child.kill("SIGTERM");
await once(api.child, "exit");
await tdb.drop();
process.exit(0);
