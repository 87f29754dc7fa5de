// The console's DNS page (dns.overview): the intent — every policy's DNS rules and toFQDNs
// selectors — beside what the nodes' DNS proxies report: their health, the names and addresses
// each node has learned with the time left on them, and the recent queries with their verdicts
// (agent.reportDnsEvents). Read-only, for viewers.

import type { Db } from "@meridian/db";
import {
  type DnsQueryFilter,
  dnsQueryFilterSchema,
  matchesDnsQuery,
  parseComponentDetail,
} from "@meridian/model";
import { z } from "zod";
import { isStale } from "../status/service";
import { createTRPCRouter, viewerProcedure } from "../trpc";

const nameSelector = z.object({ matchName: z.string().optional(), matchPattern: z.string().optional() });
type Selector = z.infer<typeof nameSelector>;

const queryRow = z.object({
  at: z.date(),
  node: z.string(),
  endpoint: z.string().nullable(),
  qname: z.string(),
  qtype: z.string(),
  verdict: z.string(),
  rcode: z.string(),
  rule: z.string().nullable(),
  reason: z.string().nullable(),
  answers: z.array(z.string()),
  latencyMs: z.number().nullable(),
});

const overviewOutput = z.object({
  at: z.date(),
  policies: z.array(
    z.object({
      id: z.string(),
      namespace: z.string(),
      name: z.string(),
      enabled: z.boolean(),
      /** Names the proxy answers for the selected pods (toPorts rules.dns). */
      dnsRules: z.array(z.string()),
      /** Names whose answers open the datapath (toFQDNs). */
      fqdns: z.array(z.string()),
    }),
  ),
  nodes: z.array(
    z.object({
      name: z.string(),
      /** The dns component's state as last reported, or "unknown" when it never reported. */
      state: z.string(),
      message: z.string(),
      updatedAt: z.date().nullable(),
      stale: z.boolean(),
      stats: z
        .object({
          queries: z.number(),
          allowed: z.number(),
          denied: z.number(),
          malformed: z.number(),
          upstreamFailures: z.number(),
          datapathTimeouts: z.number(),
        })
        .nullable(),
      learnedTotal: z.number().int(),
      learned: z.array(
        z.object({
          endpoint: z.string(),
          address: z.string(),
          names: z.array(z.string()),
          expiresInSeconds: z.number().int(),
          heldByConnection: z.boolean(),
        }),
      ),
    }),
  ),
  queries: z.array(queryRow),
});
export type DnsOverview = z.infer<typeof overviewOutput>;

const show = (s: Selector) => s.matchName ?? s.matchPattern ?? "";

interface Rule {
  toFQDNs?: Selector[];
  toPorts?: { rules?: { dns?: Selector[] } }[];
}

export async function dnsOverview(
  db: Db,
  filter: DnsQueryFilter & { limit: number },
  now = new Date(),
): Promise<DnsOverview> {
  const [policies, nodes, events] = await Promise.all([
    db.networkPolicy.findMany({ orderBy: [{ namespace: "asc" }, { name: "asc" }] }),
    db.node.findMany({
      where: { joinState: "joined" },
      orderBy: { name: "asc" },
      include: { components: { where: { component: "dns" } } },
    }),
    db.dnsEvent.findMany({
      orderBy: [{ at: "desc" }, { id: "desc" }],
      // Filters on the JSON body are applied below; read enough to fill a page after them.
      take: filter.verdict || filter.name || filter.endpoint ? 2_000 : filter.limit,
      include: { node: { select: { name: true } } },
    }),
  ]);

  const policyRows = policies.flatMap((p) => {
    const egress = ((p.spec as { egress?: Rule[] }).egress ?? []) as Rule[];
    const dnsRules = egress.flatMap((r) => (r.toPorts ?? []).flatMap((t) => (t.rules?.dns ?? []).map(show)));
    const fqdns = egress.flatMap((r) => (r.toFQDNs ?? []).map(show));
    if (dnsRules.length === 0 && fqdns.length === 0) return [];
    return [{ id: p.id, namespace: p.namespace, name: p.name, enabled: p.enabled, dnsRules, fqdns }];
  });

  const nodeRows = nodes.map((n) => {
    const c = n.components[0];
    const detail = c ? parseComponentDetail("dns", c.detail) : undefined;
    const learned = (detail?.entries ?? [])
      .map((e) => ({
        endpoint: e.endpoint,
        address: e.address,
        names: e.names,
        expiresInSeconds: Math.max(0, Math.round((Date.parse(e.expiresAt) - now.getTime()) / 1000)),
        heldByConnection: e.heldByConnection,
      }))
      // An entry past its TTL that no connection holds is gone on the node by now.
      .filter((e) => e.expiresInSeconds > 0 || e.heldByConnection);
    return {
      name: n.name,
      state: c?.state ?? "unknown",
      message: c?.message ?? "no DNS proxy status reported",
      updatedAt: c?.updatedAt ?? null,
      stale: isStale(n.lastHeartbeatAt, now.getTime()),
      stats: detail?.stats
        ? {
            queries: detail.stats.queries,
            allowed: detail.stats.allowed,
            denied: detail.stats.denied,
            malformed: detail.stats.malformed,
            upstreamFailures: detail.stats.upstreamFailures,
            datapathTimeouts: detail.stats.datapathTimeouts,
          }
        : null,
      learnedTotal: detail?.learned ?? 0,
      learned,
    };
  });

  const queries = events
    .map((e) => {
      const d = e.data as Record<string, unknown>;
      const str = (k: string) => (typeof d[k] === "string" ? (d[k] as string) : null);
      return {
        at: e.at,
        node: e.node.name,
        endpoint: str("endpoint"),
        qname: str("qname") ?? "",
        qtype: str("qtype") ?? "",
        verdict: str("verdict") ?? "",
        rcode: str("rcode") ?? "",
        rule: str("rule"),
        reason: str("reason"),
        answers: Array.isArray(d.answers) ? (d.answers as string[]) : [],
        latencyMs: typeof d.latencyMs === "number" ? d.latencyMs : null,
      };
    })
    .filter((q) => matchesDnsQuery({ ...q, name: q.qname }, filter))
    .slice(0, filter.limit);

  return { at: now, policies: policyRows, nodes: nodeRows, queries };
}

export const dnsRouter = createTRPCRouter({
  overview: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/dns", tags: ["dns"] } })
    .input(
      dnsQueryFilterSchema
        .extend({ limit: z.number().int().min(1).max(500).default(100) })
        .default({ limit: 100 }),
    )
    .output(overviewOutput)
    .query(({ ctx, input }) => dnsOverview(ctx.db, input)),
});
