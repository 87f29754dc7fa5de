// deploy/grafana/meridian.json against real scrapes: every metric a panel queries exists in the
// /metrics of a running agent (one lab node with the eBPF datapath) or of the control plane (the
// real API server, scraped with an API token), on the side its job selector names; every panel
// has a query. Needs root and PostgreSQL (`npm test`, or DATABASE_URL); skipped otherwise.
import { readFileSync } from "node:fs";
import path from "node:path";
import { callAgent } from "@meridian/node-agent/agent/local-client";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import { type ControlPlane, LAB_PARTS, startControlPlane } from "./control-plane-harness";

const prefix = `mrdlabgf${process.pid}-`;
const dashboardFile = path.join(import.meta.dirname, "..", "..", "deploy", "grafana", "meridian.json");

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

/** Metric families a scrape declares (`# TYPE name kind`), with their kinds. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** The family a series name belongs to: a histogram's _bucket/_sum/_count are its own. */
function familyOf(series: string, known: Map<string, string>): string | undefined {
  if (known.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, "");
  return known.get(base) === "histogram" ? base : undefined;
}

let cp: ControlPlane | undefined;
let lab: Lab | undefined;

describe.skipIf(needs("the Grafana dashboard against real scrapes", LAB_PARTS).skip)(
  "the Grafana dashboard against real scrapes",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(
        {
          nodes: [{ name: "gf-n1", podCIDRs: ["10.244.41.0/24"] }],
          pods: [{ node: "gf-n1", name: "web-1", namespace: "shop", labels: { app: "web" } }],
        },
        { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken }, routesFromControlPlane: true },
      );
    }, 300_000);

    afterAll(async () => {
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix);
      await cp?.close();
    }, 60_000);

    it("queries only metrics a running agent and the control plane serve, each on its own side", async () => {
      const agentScrape = String(
        (await callAgent(lab!.nodes.get("gf-n1")!.socket, "GET", "/metrics", undefined, 10_000)).body,
      );
      const { secret } = await (await cp!.h.as("admin")).apiTokens.create({
        name: "grafana",
        role: "viewer",
      });
      const r = await fetch(`${cp!.api.url}/metrics`, { headers: { authorization: `Bearer ${secret}` } });
      expect(r.status).toBe(200);
      const sides = { agent: families(agentScrape), api: families(await r.text()) };
      expect(sides.agent.size).toBeGreaterThan(10);

      const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as { panels: Panel[] };
      const queried: { side: "agent" | "api"; series: string; panel: string }[] = [];
      for (const p of dashboard.panels.filter((x) => x.type !== "row")) {
        expect(p.targets?.length ?? 0, `panel "${p.title}" has no query`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
          const found = [...t.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{job=~"\$(agent|api)_job"/g)];
          // Every series in a query names its side, so a panel can never read the other job's metric.
          const bare =
            t.expr.replace(/\{[^}]*\}/g, "").match(/\b(meridian_[a-z0-9_]+|process_[a-z0-9_]+)\b/g) ?? [];
          expect(bare.length, `"${p.title}": ${t.expr}`).toBe(found.length);
          for (const m of found)
            queried.push({ side: m[2] as "agent" | "api", series: m[1]!, panel: p.title });
        }
      }
      const missing = queried.filter((q) => !familyOf(q.series, sides[q.side]));
      expect(missing).toEqual([]);
      // The dashboard covers the drops, lost events, applied revision and the control plane's own.
      const names = new Set(queried.map((q) => q.series));
      for (const n of [
        "meridian_datapath_drops_total",
        "meridian_flow_events_lost_total",
        "meridian_last_applied_revision",
        "meridian_api_requests_total",
        "meridian_api_request_duration_seconds_bucket",
        "meridian_api_connected_agents",
        "meridian_api_propagation_lag_seconds",
        "meridian_api_db_pool_connections",
      ])
        expect(names.has(n), n).toBe(true);
    });
  },
);
