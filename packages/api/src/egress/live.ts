// The console's Egress page beside the intent (egress.live): what each node's egress datapath
// reports for each policy — its role there, what it does with new connections (steer to the
// gateway, SNAT as the gateway, drop when no gateway is left), the active gateway and egress IP it
// uses, the selected pods it steers and the translations it holds — and which nodes report no
// egress datapath at all, so the page never passes a stored policy off as enforced. Per policy it
// also sums up failover from those reports: which gateway the nodes use now (the agents choose the
// first healthy one of the control plane's order themselves), each gateway's health as the nodes
// see it, and the most recent failover any node reported.
import type { Db } from "@meridian/db";
import { parseComponentDetail } from "@meridian/model";
import { z } from "zod";
import { isStale } from "../status/service";
import { createTRPCRouter, viewerProcedure } from "../trpc";

const modeSchema = z.enum(["steer", "snat", "drop"]).nullable();

const nodeReport = z.object({
  node: z.string(),
  stale: z.boolean(),
  updatedAt: z.date(),
  role: z.enum(["source", "gateway", "source+gateway"]),
  mode: z.object({ ipv4: modeSchema, ipv6: modeSchema }),
  activeGateway: z.string().nullable(),
  intendedGateway: z.string().nullable(),
  gateways: z.array(z.object({ node: z.string(), healthy: z.boolean(), reason: z.string().optional() })),
  failovers: z.number(),
  lastFailover: z
    .object({
      at: z.string(),
      from: z.string().nullable(),
      to: z.string().nullable(),
      reason: z.string(),
      durationMs: z.number().nullable(),
    })
    .nullable(),
  egressIP: z.string().nullable(),
  selectedLocalPods: z.number(),
  missingLocalPods: z.number(),
  snatEntries: z.number(),
  problems: z.array(z.string()),
});

const liveOutput = z.object({
  at: z.date(),
  /** Joined nodes that report an egress datapath component, and those that do not. */
  nodesWithDatapath: z.array(z.string()),
  nodesWithout: z.array(z.string()),
  policies: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      enabled: z.boolean(),
      /** The nodes taking part, as they report it; empty when none does. */
      nodes: z.array(nodeReport),
      /** The gateways the fresh reports use for new connections, with the nodes using each. */
      activeGateways: z.array(z.object({ gateway: z.string(), nodes: z.array(z.string()) })),
      /** The control plane's first gateway (intent), when a node reports it. */
      intendedGateway: z.string().nullable(),
      /** Each gateway: healthy unless a fresh report sees it down (and which nodes do, why). */
      gatewayHealth: z.array(
        z.object({
          node: z.string(),
          healthy: z.boolean(),
          downFrom: z.array(z.string()),
          reasons: z.array(z.string()),
        }),
      ),
      /** The most recent failover a node reported (and which node). */
      lastFailover: z
        .object({
          node: z.string(),
          at: z.string(),
          from: z.string().nullable(),
          to: z.string().nullable(),
          reason: z.string(),
          durationMs: z.number().nullable(),
        })
        .nullable(),
      /** In words, for the page's state column: what the reports add up to. */
      state: z.enum(["forwarding", "dropping", "degraded", "not reported", "disabled"]),
    }),
  ),
});
export type EgressLive = z.infer<typeof liveOutput>;

export async function egressLive(db: Db): Promise<EgressLive> {
  const now = new Date();
  const [policies, nodes] = await Promise.all([
    db.egressGatewayPolicy.findMany({
      orderBy: { name: "asc" },
      select: { id: true, name: true, enabled: true },
    }),
    db.node.findMany({
      where: { joinState: "joined" },
      orderBy: { name: "asc" },
      include: { components: { where: { component: "egress" } } },
    }),
  ]);
  const reports = new Map<string, z.infer<typeof nodeReport>[]>();
  const withDatapath: string[] = [];
  const without: string[] = [];
  for (const n of nodes) {
    const c = n.components[0];
    const detail = c ? parseComponentDetail("egress", c.detail) : undefined;
    if (!c || !detail) {
      without.push(n.name);
      continue;
    }
    withDatapath.push(n.name);
    const stale = isStale(n.lastHeartbeatAt, now.getTime());
    for (const p of detail.policies) {
      const list = reports.get(p.policy) ?? [];
      list.push({
        node: n.name,
        stale,
        updatedAt: c.updatedAt,
        ...p,
        // Reports of agents from before failover have none of these.
        intendedGateway: p.intendedGateway ?? null,
        gateways: (p.gateways ?? []).map((g) => ({
          node: g.node,
          healthy: g.healthy,
          ...(g.reason ? { reason: g.reason } : {}),
        })),
        failovers: p.failovers ?? 0,
        lastFailover: p.lastFailover ?? null,
        problems: p.problems,
      });
      reports.set(p.policy, list);
    }
  }
  return {
    at: now,
    nodesWithDatapath: withDatapath,
    nodesWithout: without,
    policies: policies.map((p) => {
      const rows = p.enabled ? (reports.get(p.name) ?? []) : [];
      return {
        id: p.id,
        name: p.name,
        enabled: p.enabled,
        nodes: rows,
        ...failoverOf(rows),
        state: stateOf(p.enabled, rows),
      };
    }),
  };
}

/** The policy's failover picture from its fresh reports. */
function failoverOf(rows: z.infer<typeof nodeReport>[]) {
  const fresh = rows.filter((r) => !r.stale);
  const active = new Map<string, string[]>();
  for (const r of fresh)
    if (r.activeGateway) active.set(r.activeGateway, [...(active.get(r.activeGateway) ?? []), r.node]);
  const health = new Map<string, { node: string; healthy: boolean; downFrom: string[]; reasons: string[] }>();
  for (const r of fresh)
    for (const g of r.gateways) {
      const h = health.get(g.node) ?? { node: g.node, healthy: true, downFrom: [], reasons: [] };
      if (!g.healthy) {
        h.healthy = false;
        h.downFrom.push(r.node);
        if (g.reason && !h.reasons.includes(g.reason)) h.reasons.push(g.reason);
      }
      health.set(g.node, h);
    }
  const last = rows
    .filter((r) => r.lastFailover)
    .map((r) => ({ node: r.node, ...r.lastFailover! }))
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))[0];
  return {
    activeGateways: [...active].map(([gateway, nodes]) => ({ gateway, nodes })),
    intendedGateway: fresh.find((r) => r.intendedGateway)?.intendedGateway ?? null,
    gatewayHealth: [...health.values()],
    lastFailover: last ?? null,
  };
}

function stateOf(
  enabled: boolean,
  rows: z.infer<typeof nodeReport>[],
): EgressLive["policies"][number]["state"] {
  if (!enabled) return "disabled";
  const fresh = rows.filter((r) => !r.stale);
  if (fresh.length === 0) return "not reported";
  const modes = fresh.flatMap((r) => [r.mode.ipv4, r.mode.ipv6]).filter((m) => m !== null);
  if (modes.length > 0 && modes.every((m) => m === "drop")) return "dropping";
  // A gateway down (even one failed over from) leaves the policy with less than it asked for.
  if (
    modes.includes("drop") ||
    fresh.some((r) => r.problems.length > 0 || r.gateways.some((g) => !g.healthy))
  )
    return "degraded";
  return "forwarding";
}

export const egressLiveRouter = createTRPCRouter({
  live: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/egress-gateway-status", tags: ["egress"] } })
    .input(z.object({}).optional())
    .output(liveOutput)
    .query(({ ctx }) => egressLive(ctx.db)),
});
