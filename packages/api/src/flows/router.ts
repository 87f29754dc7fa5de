// Flow records over a time range, with filters, and the same as NDJSON in Hubble's field names.

import { objectNameSchema, queryInt } from "@meridian/model";
import { z } from "zod";
import { loadSnapshot } from "../agent/snapshot";
import { notFound } from "../errors";
import { createTRPCRouter, viewerProcedure } from "../trpc";
import { dropSummary, dropsByEndpoint, explainFlow, queryFlows, toHubbleJson } from "./service";
import { noFixReason, suggestFixes } from "./suggest";

const DAY = 86_400_000;

const flowQueryInput = z
  .object({
    from: z.coerce.date().optional(),
    to: z.coerce.date().optional(),
    node: z.string().max(253).optional(),
    verdict: z.enum(["forwarded", "dropped", "redirected"]).optional(),
    reason: z.string().max(200).optional(),
    ruleId: z.string().max(300).optional(),
    policy: z.string().max(300).optional(),
    endpoint: z.string().max(300).optional(),
    /** The local endpoint's namespace and pod name (the pod the node saw the flow at). */
    namespace: objectNameSchema.optional(),
    pod: objectNameSchema.optional(),
    ip: z.string().max(64).optional(),
    limit: queryInt(1, 5000).default(500),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: "from must not be after to",
    path: ["from"],
  });

const flowRecordOutput = z.object({
  id: z.string(),
  node: z.string(),
  at: z.date(),
  source: z.string(),
  destination: z.string(),
  protocol: z.string(),
  port: z.number().int().optional(),
  verdict: z.enum(["forwarded", "dropped", "redirected"]),
  reason: z.string().optional(),
  direction: z.enum(["ingress", "egress"]).optional(),
  endpoint: z.string().optional(),
  sourcePod: z.string().optional(),
  destinationPod: z.string().optional(),
  ruleId: z.string().optional(),
  policies: z.array(z.string()),
  packets: z.number(),
  bytes: z.number(),
  suppressed: z.number(),
});

const policyLinkOutput = z.object({ ref: z.string(), id: z.string().nullable(), enabled: z.boolean() });

const verdictOutput = z.enum(["allow", "deny"]);
const flowFixOutput = z.object({
  kind: z.enum(["existing", "new"]),
  direction: z.enum(["ingress", "egress"]),
  policy: z.string(),
  policyId: z.string().optional(),
  version: z.number().int().optional(),
  namespace: z.string(),
  name: z.string(),
  rule: z.record(z.string(), z.unknown()),
  ruleIndex: z.number().int(),
  spec: z.record(z.string(), z.unknown()),
  words: z.string(),
  verdict: verdictOutput,
  reason: z.string(),
  wholePath: z.object({ verdict: verdictOutput, reason: z.string() }).optional(),
});

const dropSummaryOutput = z.object({
  from: z.date(),
  to: z.date(),
  lastReportAt: z.date().nullable(),
  total: z.number(),
  byReason: z.array(z.object({ reason: z.string(), words: z.string(), packets: z.number() })),
  topRules: z.array(z.object({ ruleId: z.string(), policies: z.array(z.string()), packets: z.number() })),
});

/** The last hour unless the caller names the range. */
function range(q: z.infer<typeof flowQueryInput>) {
  const to = q.to ?? new Date();
  const from = q.from ?? new Date(to.getTime() - DAY / 24);
  return { ...q, from, to };
}

export const flowsRouter = createTRPCRouter({
  query: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/flows", tags: ["flows"] } })
    .input(flowQueryInput)
    .output(z.object({ items: z.array(flowRecordOutput) }))
    .query(async ({ ctx, input }) => ({ items: await queryFlows(ctx.db, range(input)) })),

  /**
   * Dropped packets over the last `minutes` (15 by default) by reason and by deciding rule: the
   * cluster's, or one node's or one endpoint's (`ns/pod`) for their pages.
   */
  drops: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/flows/drops", tags: ["flows"] } })
    .input(
      z.object({
        minutes: queryInt(1, 24 * 60).default(15),
        node: z.string().max(253).optional(),
        endpoint: z.string().max(300).optional(),
      }),
    )
    .output(dropSummaryOutput)
    .query(({ ctx, input }) => {
      const to = new Date();
      return dropSummary(ctx.db, new Date(to.getTime() - input.minutes * 60_000), to, {
        node: input.node,
        endpoint: input.endpoint,
      });
    }),

  /** Dropped packets over the last `minutes` for each endpoint asked (`ns/pod`): the Endpoints list's column. */
  dropsByEndpoint: viewerProcedure
    .meta({ openapi: { method: "POST", path: "/flows/drops-by-endpoint", tags: ["flows"] } })
    .input(
      z.object({
        minutes: queryInt(1, 24 * 60).default(15),
        endpoints: z.array(z.string().max(300)).max(500),
      }),
    )
    .output(z.object({ items: z.array(z.object({ endpoint: z.string(), packets: z.number() })) }))
    .query(async ({ ctx, input }) => {
      const to = new Date();
      const counts = await dropsByEndpoint(
        ctx.db,
        [...new Set(input.endpoints)],
        new Date(to.getTime() - input.minutes * 60_000),
        to,
      );
      return { items: [...counts].map(([endpoint, packets]) => ({ endpoint, packets })) };
    }),

  /** Why one flow record was dropped (or allowed): the reason in words and the policies to edit. */
  explain: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/flows/{id}/explain", tags: ["flows"] } })
    .input(
      z.object({
        id: z
          .string()
          .max(18, "id must be a flow record number")
          .regex(/^\d{1,18}$/, "id must be a flow record number"),
      }),
    )
    .output(
      z.object({
        flow: flowRecordOutput,
        summary: z.string(),
        reasonWords: z.string(),
        byPolicy: z.boolean(),
        policies: z.array(policyLinkOutput),
        rule: z
          .object({ ruleId: z.string(), kind: z.string(), index: z.number().int(), spec: z.unknown() })
          .optional(),
        /** The rules that would allow a default-deny drop, each checked by compiling it (suggest.ts). */
        fixes: z.array(flowFixOutput),
        noFix: z.string().optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const e = await explainFlow(ctx.db, BigInt(input.id));
      // A record past the retention is gone as well as one that never was.
      if (!e) throw notFound(`flow record ${input.id}`);
      // Only a default deny is worth the snapshot: nothing else has an allow rule as its fix.
      const early = noFixReason(e.flow);
      const { fixes, none } = early
        ? { fixes: [], none: early }
        : suggestFixes(await loadSnapshot(ctx.db), e.flow);
      return { ...e, fixes, ...(none ? { noFix: none } : {}) };
    }),

  export: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/flows/export", tags: ["flows"] } })
    .input(flowQueryInput)
    .output(z.object({ count: z.number().int(), ndjson: z.string() }))
    .query(async ({ ctx, input }) => {
      const items = await queryFlows(ctx.db, range(input));
      return {
        count: items.length,
        ndjson: items.map((r) => `${JSON.stringify(toHubbleJson(r))}\n`).join(""),
      };
    }),
});
