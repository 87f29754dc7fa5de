// Node and component status for the console, as a query and as a live SSE subscription.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { feedFor } from "../agent/change-feed";
import { createTRPCRouter, viewerProcedure } from "../trpc";
import { statusOverview } from "./service";

const statusOutput = z.object({
  currentRevision: z.number().int(),
  at: z.date(),
  nodes: z.array(
    z.object({
      name: z.string(),
      joinState: z.enum(["pending", "joined", "revoked"]),
      agentVersion: z.string().nullable(),
      appliedRevision: z.number().int().nullable(),
      inSync: z.boolean(),
      lastHeartbeatAt: z.date().nullable(),
      stale: z.boolean(),
      components: z.array(
        z.object({
          component: z.string(),
          state: z.string(),
          message: z.string(),
          /** Component-specific; the BGP component reports `peers: { "<address>": "established" | … }`. */
          detail: z.record(z.string(), z.unknown()),
          revision: z.number().int().nullable(),
          updatedAt: z.date(),
        }),
      ),
    }),
  ),
});

// Bursts of reports (hundreds of agents acknowledging one revision) become one push.
const COALESCE_MS = 250;

export const statusRouter = createTRPCRouter({
  overview: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/status", tags: ["status"] } })
    .input(z.object({}).optional())
    .output(statusOutput)
    .query(({ ctx }) => statusOverview(ctx.db)),

  /** The overview now, then again whenever an agent reports or a revision lands. */
  live: viewerProcedure.input(z.object({}).optional()).subscription(async function* ({ ctx, signal }) {
    const feed = feedFor(ctx);
    if (!feed)
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "this API process has no change feed" });
    await feed.start();
    let dirty = true;
    let wake: (() => void) | null = null;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    const offStatus = feed.subscribeStatus(poke);
    const offChanges = feed.subscribe(poke);
    signal?.addEventListener("abort", poke);
    try {
      while (!signal?.aborted) {
        if (!dirty) {
          // Also refresh every 30 s so `stale` flips even when nothing reports.
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 30_000).unref?.();
          });
          wake = null;
          if (signal?.aborted) return;
          await new Promise((r) => setTimeout(r, COALESCE_MS));
        }
        dirty = false;
        yield await statusOverview(ctx.db);
      }
    } finally {
      offStatus();
      offChanges();
    }
  }),
});
