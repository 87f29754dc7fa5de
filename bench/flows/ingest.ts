// Control-plane side of flows: how many flow records per second PostgreSQL takes in the batches
// agents send (agent.reportFlows: up to 5,000 rows, one createMany), validated with the same zod
// schema, and how long the console's reads take over what was written: the query, the Flows
// page's default (newest 200 of the window) and the drops tiles' sums (flows.drops). Uses a fresh database
// from the test server (createHarness), dropped at the end.
//
//   MERIDIAN_TEST_SERVER_URL=postgresql://postgres@127.0.0.1:5439/postgres npx tsx bench/flows/ingest.ts [--batches 20]

import { createHarness, dropSummary, queryFlows } from "@meridian/api/testing";
import { flowSummarySchema } from "@meridian/model";
import { z } from "zod";

const i = process.argv.indexOf("--batches");
const BATCHES = i > 0 ? Number(process.argv[i + 1]) : 20;
const BATCH = 5000;

const h = await createHarness();
try {
  const node = await h.db.node.create({ data: { name: "bench-flows" } });
  const t0 = Date.now();
  const batch = (b: number) =>
    Array.from({ length: BATCH }, (_, k) => ({
      at: new Date(t0 + b * 15_000),
      source: `10.0.${(k >> 8) & 255}.${k & 255}`,
      destination: "10.1.0.10",
      protocol: "tcp",
      port: 5432,
      verdict: k % 4 === 0 ? "dropped" : "forwarded",
      ...(k % 4 === 0
        ? { reason: "policy_default", ruleId: "default-deny" }
        : { ruleId: "shop/db/ingress[0]" }),
      direction: "ingress",
      endpoint: "shop/db-0",
      policies: ["shop/db"],
      packets: 1 + (k % 7),
      bytes: 60 * (1 + (k % 7)),
    }));
  const input = z.object({ flows: z.array(flowSummarySchema).max(5000) });
  let rows = 0;
  const start = process.hrtime.bigint();
  for (let b = 0; b < BATCHES; b++) {
    const { flows } = input.parse({ flows: batch(b) });
    const r = await h.db.flowSummary.createMany({
      data: flows.map(({ at, ...data }) => ({ nodeId: node.id, at, data })),
    });
    rows += r.count;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const q0 = process.hrtime.bigint();
  const found = await queryFlows(h.db, {
    from: new Date(t0),
    to: new Date(t0 + BATCHES * 15_000),
    verdict: "dropped",
    policy: "shop/db",
    limit: 500,
  });
  const qms = Number(process.hrtime.bigint() - q0) / 1e6;
  const end = new Date(t0 + BATCHES * 15_000);
  const p0 = process.hrtime.bigint();
  const page = await queryFlows(h.db, { from: new Date(end.getTime() - 3_600_000), to: end, limit: 200 });
  const pms = Number(process.hrtime.bigint() - p0) / 1e6;
  const d0 = process.hrtime.bigint();
  const drops = await dropSummary(h.db, new Date(end.getTime() - 15 * 60_000), end);
  const dms = Number(process.hrtime.bigint() - d0) / 1e6;
  console.log(
    `flows ingest: ${rows} records in ${BATCHES} batches of ${BATCH}: ${(rows / secs).toFixed(0)} records/s (${((secs / BATCHES) * 1000).toFixed(0)} ms/batch); query dropped+policy over ${rows}: ${found.length} rows in ${qms.toFixed(0)} ms; Flows page (newest ${page.length}): ${pms.toFixed(0)} ms; drops tile over ${rows} (${drops.total} dropped packets): ${dms.toFixed(0)} ms`,
  );
} finally {
  await h.close();
}
