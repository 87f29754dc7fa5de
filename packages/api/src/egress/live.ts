// The console's Egress page beside the intent (egress.live): what each node's egress datapath
// reports for each policy — its role there, what it does with new connections (steer to the
// gateway, SNAT as the gateway, drop when no gateway is left), the active gateway and egress IP it
// uses, the selected pods it steers and the translations it holds — and which nodes report no
// egress datapath at all, so the page never passes a stored policy off as enforced.
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
      list.push({ node: n.name, stale, updatedAt: c.updatedAt, ...p, problems: p.problems });
      reports.set(p.policy, list);
    }
  }
  return {
    at: now,
    nodesWithDatapath: withDatapath,
    nodesWithout: without,
    policies: policies.map((p) => {
      const rows = p.enabled ? (reports.get(p.name) ?? []) : [];
      return { id: p.id, name: p.name, enabled: p.enabled, nodes: rows, state: stateOf(p.enabled, rows) };
    }),
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
  if (modes.includes("drop") || fresh.some((r) => r.problems.length > 0)) return "degraded";
  return "forwarding";
}

export const egressLiveRouter = createTRPCRouter({
  live: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/egress-gateway-status", tags: ["egress"] } })
    .input(z.object({}).optional())
    .output(liveOutput)
    .query(({ ctx }) => egressLive(ctx.db)),
});
