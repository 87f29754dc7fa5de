// health.overview (the Overview's and the NOC wall's DNS, egress and SRv6 tiles) and health.dns
// (one node's DNS proxy, for its page). Read-only, for viewers; computed in service.ts from the
// agents' reports.
import { z } from "zod";
import { createTRPCRouter, viewerProcedure } from "../trpc";
import { dnsHealth, egressHealth, srv6Health } from "./service";

const reportState = ["not reported", "stale"] as const;

const dnsHealthOutput = z.object({
  minutes: z.number().int(),
  nodes: z.array(
    z.object({
      node: z.string(),
      state: z.enum(["up", "degraded", "down", ...reportState]),
      message: z.string(),
      updatedAt: z.date().nullable(),
      queriesPerMinute: z.number(),
      refusalsPerMinute: z.number(),
      timeoutsPerMinute: z.number(),
      totals: z
        .object({
          queries: z.number(),
          denied: z.number(),
          datapathTimeouts: z.number(),
          upstreamFailures: z.number(),
        })
        .nullable(),
    }),
  ),
});

const egressHealthOutput = z.object({
  policies: z.array(
    z.object({
      name: z.string(),
      state: z.enum(["forwarding", "degraded", "dropping", "disabled", ...reportState]),
      activeGateway: z.string().nullable(),
      egressIP: z.string().nullable(),
    }),
  ),
});

const srv6HealthOutput = z.object({
  vrfs: z.array(
    z.object({
      name: z.string(),
      state: z.enum(["reachable", "no routes", ...reportState]),
      nodesReporting: z.number().int(),
      nodesIntended: z.number().int(),
      members: z.number().int(),
      importedRoutes: z.number().int(),
      staticRoutes: z.number().int(),
      sites: z.array(z.string()),
    }),
  ),
  encapsulated: z.number(),
  decapsulated: z.number(),
  drops: z.number(),
  exportedRoutes: z.number(),
  nodesReporting: z.number().int(),
});

export const healthRouter = createTRPCRouter({
  overview: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/health", tags: ["status"] } })
    .input(z.object({}).optional())
    .output(
      z.object({ at: z.date(), dns: dnsHealthOutput, egress: egressHealthOutput, srv6: srv6HealthOutput }),
    )
    .query(async ({ ctx }) => {
      const at = new Date();
      const [dns, egress, srv6] = await Promise.all([
        dnsHealth(ctx.db, at),
        egressHealth(ctx.db),
        srv6Health(ctx.db, at),
      ]);
      return { at, dns, egress, srv6 };
    }),

  dns: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/health/dns", tags: ["status"] } })
    .input(z.object({ node: z.string().max(253).optional() }))
    .output(dnsHealthOutput)
    .query(({ ctx, input }) => dnsHealth(ctx.db, new Date(), input.node)),
});
