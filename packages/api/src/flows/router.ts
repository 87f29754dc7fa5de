// Flow records over a time range, with filters, and the same as NDJSON in Hubble's field names.
import { z } from "zod";
import { queryInt } from "../spec/limits";
import { createTRPCRouter, viewerProcedure } from "../trpc";
import { queryFlows, toHubbleJson } from "./service";

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
  ruleId: z.string().optional(),
  policies: z.array(z.string()),
  packets: z.number(),
  bytes: z.number(),
  suppressed: z.number(),
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
