// Revisions and the audit log: list, inspect, diff any two, restore one as a new revision.

import { MAX_TEXT, offsetSchema, queryInt, revisionNumberSchema, searchSchema } from "@meridian/model";
import { z } from "zod";
import { notFound } from "../errors";
import { commitChange } from "../revisions/commit";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc";
import { redact } from "./diff";
import { diffRevisions, restoreRevision } from "./service";

const revisionOutput = z.object({
  number: z.number().int(),
  authorKind: z.string(),
  authorName: z.string(),
  message: z.string(),
  createdAt: z.date(),
  entryCount: z.number().int(),
});

const entryOutput = z.object({
  id: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  entityName: z.string(),
  action: z.enum(["create", "update", "delete"]),
  before: z.unknown(),
  after: z.unknown(),
});

export const auditRouter = createTRPCRouter({
  list: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/revisions", tags: ["audit"] } })
    .input(
      z.object({
        entityType: z.string().max(64).optional(),
        entityId: z.string().max(MAX_TEXT.name).optional(),
        author: searchSchema.optional(),
        limit: queryInt(1, 500).default(50),
        offset: offsetSchema,
      }),
    )
    .output(z.object({ items: z.array(revisionOutput), total: z.number().int(), current: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const entryFilter =
        input.entityType || input.entityId
          ? {
              entries: {
                some: {
                  ...(input.entityType ? { entityType: input.entityType } : {}),
                  ...(input.entityId ? { entityId: input.entityId } : {}),
                },
              },
            }
          : {};
      const where = {
        ...entryFilter,
        ...(input.author ? { authorName: { contains: input.author, mode: "insensitive" as const } } : {}),
      };
      const [rows, total, latest] = await Promise.all([
        ctx.db.revision.findMany({
          where,
          orderBy: { number: "desc" },
          take: input.limit,
          skip: input.offset,
          include: { _count: { select: { entries: true } } },
        }),
        ctx.db.revision.count({ where }),
        ctx.db.revision.findFirst({ orderBy: { number: "desc" }, select: { number: true } }),
      ]);
      return {
        items: rows.map(({ _count, authorId: _a, ...r }) => ({ ...r, entryCount: _count.entries })),
        total,
        current: latest?.number ?? 0,
      };
    }),

  get: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/revisions/{number}", tags: ["audit"] } })
    .input(z.object({ number: revisionNumberSchema.refine((n) => n >= 1, "revisions start at 1") }))
    .output(revisionOutput.extend({ entries: z.array(entryOutput) }))
    .query(async ({ ctx, input }) => {
      const rev = await ctx.db.revision.findUnique({
        where: { number: input.number },
        include: { entries: true },
      });
      if (!rev) throw notFound(`revision ${input.number}`);
      const { authorId: _a, entries, ...r } = rev;
      return {
        ...r,
        entryCount: entries.length,
        entries: entries.map((e) => ({ ...e, before: redact(e.before), after: redact(e.after) })),
      };
    }),

  diff: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/revision-diff", tags: ["audit"] } })
    .input(z.object({ from: revisionNumberSchema, to: revisionNumberSchema }))
    .output(
      z.object({
        from: z.number().int(),
        to: z.number().int(),
        changes: z.array(
          z.object({
            entityType: z.string(),
            entityId: z.string(),
            entityName: z.string(),
            change: z.enum(["added", "removed", "modified"]),
            before: z.unknown(),
            after: z.unknown(),
            fields: z.array(z.object({ path: z.string(), before: z.unknown(), after: z.unknown() })),
          }),
        ),
      }),
    )
    .query(async ({ ctx, input }) => ({
      ...input,
      changes: await diffRevisions(ctx.db, input.from, input.to),
    })),

  restore: operatorProcedure
    .meta({ openapi: { method: "POST", path: "/revisions/{number}/restore", tags: ["audit"] } })
    .input(z.object({ number: revisionNumberSchema, message: z.string().max(1000).optional() }))
    .output(z.object({ revision: z.number().int().nullable(), changed: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const { value, revision } = await commitChange(
        ctx.db,
        ctx.actor,
        input.message ?? `restore revision ${input.number}`,
        (tx, rec) => restoreRevision(tx, rec, input.number, ctx.actor.name),
      );
      return { revision, changed: value };
    }),
});
