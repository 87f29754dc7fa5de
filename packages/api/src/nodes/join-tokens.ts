// One-time join tokens (admin). An agent trades one for its node credential (agent.join).

import { objectNameSchema, offsetSchema, queryInt } from "@meridian/model";
import { z } from "zod";
import { newSecret } from "../auth/crypto";
import { notFound } from "../errors";
import { queryBoolean } from "../resources/define";
import { commitChange } from "../revisions/commit";
import { adminProcedure, createTRPCRouter } from "../trpc";

const joinTokenOutput = z.object({
  id: z.string(),
  prefix: z.string(),
  description: z.string(),
  nodeName: z.string().nullable(),
  expiresAt: z.date(),
  usedAt: z.date().nullable(),
  usedByNode: z.string().nullable(),
  createdAt: z.date(),
  createdBy: z.string(),
});

const select = {
  id: true,
  prefix: true,
  description: true,
  nodeName: true,
  expiresAt: true,
  usedAt: true,
  usedByNode: true,
  createdAt: true,
  createdBy: true,
} as const;

export const joinTokensRouter = createTRPCRouter({
  list: adminProcedure
    .meta({ openapi: { method: "GET", path: "/join-tokens", tags: ["nodes"] } })
    .input(
      z.object({
        includeUsed: queryBoolean().default(false),
        limit: queryInt(1, 500).default(50),
        offset: offsetSchema,
      }),
    )
    .output(z.object({ items: z.array(joinTokenOutput), total: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const where = input.includeUsed ? {} : { usedAt: null };
      const [items, total] = await Promise.all([
        ctx.db.joinToken.findMany({
          where,
          select,
          orderBy: { createdAt: "desc" },
          take: input.limit,
          skip: input.offset,
        }),
        ctx.db.joinToken.count({ where }),
      ]);
      return { items, total };
    }),

  create: adminProcedure
    .meta({ openapi: { method: "POST", path: "/join-tokens", tags: ["nodes"] } })
    .input(
      z.object({
        description: z.string().max(500).default(""),
        nodeName: objectNameSchema.optional().describe("restrict the token to one node name"),
        ttlSeconds: z
          .number()
          .int()
          .min(60)
          .max(30 * 24 * 3600)
          .default(24 * 3600),
      }),
    )
    .output(z.object({ joinToken: joinTokenOutput, secret: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const { secret, hash, prefix } = newSecret("join");
      const { value } = await commitChange(ctx.db, ctx.actor, "create join token", async (tx, rec) => {
        const row = await tx.joinToken.create({
          data: {
            tokenHash: hash,
            prefix,
            description: input.description,
            nodeName: input.nodeName ?? null,
            expiresAt: new Date(Date.now() + input.ttlSeconds * 1000),
            createdBy: ctx.actor.name,
          },
          select,
        });
        rec.record({
          entityType: "JoinToken",
          entityId: row.id,
          entityName: row.prefix,
          action: "create",
          before: null,
          after: row,
        });
        return row;
      });
      return { joinToken: value, secret };
    }),

  revoke: adminProcedure
    .meta({ openapi: { method: "DELETE", path: "/join-tokens/{id}", tags: ["nodes"] } })
    .input(z.object({ id: z.string().uuid() }))
    .output(z.object({ id: z.string() }))
    .mutation(async ({ ctx, input }) => {
      await commitChange(ctx.db, ctx.actor, "revoke join token", async (tx, rec) => {
        const before = await tx.joinToken.findUnique({ where: { id: input.id }, select });
        if (!before) throw notFound(`join token ${input.id}`);
        await tx.joinToken.delete({ where: { id: input.id } });
        rec.record({
          entityType: "JoinToken",
          entityId: before.id,
          entityName: before.prefix,
          action: "delete",
          before,
          after: null,
        });
      });
      return { id: input.id };
    }),
});
