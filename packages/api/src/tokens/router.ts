// API tokens for automation (admin). The secret is shown once by `create`; reads show the
// prefix only.

import { offsetSchema, queryInt } from "@meridian/model";
import { z } from "zod";
import { newSecret } from "../auth/crypto";
import { notFound } from "../errors";
import { queryBoolean } from "../resources/define";
import { commitChange } from "../revisions/commit";
import { adminProcedure, createTRPCRouter } from "../trpc";
import { roleSchema } from "../users/schemas";

const tokenOutput = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  role: roleSchema,
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
  createdAt: z.date(),
  createdBy: z.string(),
});

const select = {
  id: true,
  name: true,
  prefix: true,
  role: true,
  expiresAt: true,
  revokedAt: true,
  lastUsedAt: true,
  createdAt: true,
  createdBy: { select: { email: true } },
} as const;

type Row = { createdBy: { email: string } } & Omit<z.infer<typeof tokenOutput>, "createdBy">;
const toOutput = (r: Row) => ({ ...r, createdBy: r.createdBy.email });

export const apiTokensRouter = createTRPCRouter({
  list: adminProcedure
    .meta({ openapi: { method: "GET", path: "/api-tokens", tags: ["api-tokens"] } })
    .input(
      z.object({
        includeRevoked: queryBoolean().default(false),
        limit: queryInt(1, 500).default(50),
        offset: offsetSchema,
      }),
    )
    .output(z.object({ items: z.array(tokenOutput), total: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const where = input.includeRevoked ? {} : { revokedAt: null };
      const [rows, total] = await Promise.all([
        ctx.db.apiToken.findMany({
          where,
          select,
          orderBy: { createdAt: "desc" },
          take: input.limit,
          skip: input.offset,
        }),
        ctx.db.apiToken.count({ where }),
      ]);
      return { items: rows.map(toOutput), total };
    }),

  create: adminProcedure
    .meta({ openapi: { method: "POST", path: "/api-tokens", tags: ["api-tokens"] } })
    .input(
      z.object({
        name: z.string().trim().min(1, "give the token a name").max(100),
        role: roleSchema,
        expiresAt: z.coerce
          .date()
          .refine((d) => d > new Date(), "must be in the future")
          .nullable()
          .default(null),
      }),
    )
    .output(z.object({ token: tokenOutput, secret: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const { secret, hash, prefix } = newSecret("tok");
      const { value } = await commitChange(
        ctx.db,
        ctx.actor,
        `create API token ${input.name}`,
        async (tx, rec) => {
          const row = await tx.apiToken.create({
            data: {
              name: input.name,
              role: input.role,
              expiresAt: input.expiresAt,
              tokenHash: hash,
              prefix,
              createdById: ctx.caller.user.id,
            },
            select,
          });
          rec.record({
            entityType: "ApiToken",
            entityId: row.id,
            entityName: row.name,
            action: "create",
            before: null,
            after: toOutput(row),
          });
          return row;
        },
      );
      return { token: toOutput(value), secret };
    }),

  revoke: adminProcedure
    .meta({ openapi: { method: "POST", path: "/api-tokens/{id}/revoke", tags: ["api-tokens"] } })
    .input(z.object({ id: z.string().uuid() }))
    .output(tokenOutput)
    .mutation(async ({ ctx, input }) => {
      const { value } = await commitChange(ctx.db, ctx.actor, `revoke API token`, async (tx, rec) => {
        const before = await tx.apiToken.findUnique({ where: { id: input.id }, select });
        if (!before) throw notFound(`API token ${input.id}`);
        const after = await tx.apiToken.update({
          where: { id: input.id },
          data: { revokedAt: before.revokedAt ?? new Date() },
          select,
        });
        rec.record({
          entityType: "ApiToken",
          entityId: after.id,
          entityName: after.name,
          action: "update",
          before: toOutput(before),
          after: toOutput(after),
        });
        return after;
      });
      return toOutput(value);
    }),
});
