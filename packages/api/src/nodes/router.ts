// Nodes: everyone may read; admins register, edit, delete and revoke them. Agents change
// their own node through the agent channel, not here.

import { offsetSchema, queryInt, searchSchema, versionSchema } from "@meridian/model";
import { z } from "zod";
import { conflict, fieldError, isUniqueViolation, notFound } from "../errors";
import { commitChange, namedObjects } from "../revisions/commit";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc";
import { joinStateSchema, nodeCreateInput, nodeOutput, nodeUpdateInput } from "./schemas";
import { assertNoPodCidrOverlap, nodeOutputOf, nodeSelect, splitPodCidrs } from "./service";

export const nodesRouter = createTRPCRouter({
  list: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/nodes", tags: ["nodes"] } })
    .input(
      z.object({
        search: searchSchema.optional(),
        joinState: joinStateSchema.optional(),
        limit: queryInt(1, 1000).default(100),
        offset: offsetSchema,
      }),
    )
    .output(z.object({ items: z.array(nodeOutput), total: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const where = {
        ...(input.search ? { name: { contains: input.search, mode: "insensitive" as const } } : {}),
        ...(input.joinState ? { joinState: input.joinState } : {}),
      };
      const [rows, total] = await Promise.all([
        ctx.db.node.findMany({
          where,
          select: nodeSelect,
          orderBy: { name: "asc" },
          take: input.limit,
          skip: input.offset,
        }),
        ctx.db.node.count({ where }),
      ]);
      return { items: rows.map(nodeOutputOf), total };
    }),

  get: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/nodes/{id}", tags: ["nodes"] } })
    .input(z.object({ id: z.string().uuid() }))
    .output(nodeOutput)
    .query(async ({ ctx, input }) => {
      const row = await ctx.db.node.findUnique({ where: { id: input.id }, select: nodeSelect });
      if (!row) throw notFound(`node ${input.id}`);
      return nodeOutputOf(row);
    }),

  create: adminProcedure
    .meta({ openapi: { method: "POST", path: "/nodes", tags: ["nodes"] } })
    .input(nodeCreateInput)
    .output(nodeOutput.extend({ revision: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      try {
        const { value, revision } = await commitChange(
          ctx.db,
          ctx.actor,
          `register node ${input.name}`,
          async (tx, rec) => {
            await assertNoPodCidrOverlap(tx, input.name, input.podCIDRs);
            const row = await tx.node.create({
              data: {
                name: input.name,
                labels: input.labels,
                addresses: input.addresses,
                ...splitPodCidrs(input.podCIDRs),
                updatedBy: ctx.actor.name,
              },
              select: nodeSelect,
            });
            rec.record({
              entityType: "Node",
              entityId: row.id,
              entityName: row.name,
              action: "create",
              before: null,
              after: row,
            });
            return row;
          },
        );
        return { ...nodeOutputOf(value), revision: revision! };
      } catch (err) {
        if (isUniqueViolation(err)) throw fieldError(["name"], `a node named ${input.name} already exists`);
        throw err;
      }
    }),

  update: adminProcedure
    .meta({ openapi: { method: "PATCH", path: "/nodes/{id}", tags: ["nodes"] } })
    .input(nodeUpdateInput)
    .output(nodeOutput.extend({ revision: z.number().int().nullable() }))
    .mutation(async ({ ctx, input }) => {
      const { value, revision } = await commitChange(ctx.db, ctx.actor, `update node`, async (tx, rec) => {
        const before = await tx.node.findUnique({ where: { id: input.id }, select: nodeSelect });
        if (!before) throw notFound(`node ${input.id}`);
        if (before.version !== input.version) throw conflict(`node ${before.name}`, before, input.version);
        if (input.podCIDRs) await assertNoPodCidrOverlap(tx, before.name, input.podCIDRs);
        const after = await tx.node.update({
          where: { id: input.id },
          data: {
            labels: input.labels,
            addresses: input.addresses,
            ...(input.podCIDRs ? splitPodCidrs(input.podCIDRs) : {}),
            version: { increment: 1 },
            updatedBy: ctx.actor.name,
          },
          select: nodeSelect,
        });
        rec.record({
          entityType: "Node",
          entityId: after.id,
          entityName: after.name,
          action: "update",
          before,
          after,
        });
        return after;
      });
      return { ...nodeOutputOf(value), revision };
    }),

  delete: adminProcedure
    .meta({ openapi: { method: "DELETE", path: "/nodes/{id}", tags: ["nodes"] } })
    .input(z.object({ id: z.string().uuid(), version: versionSchema }))
    .output(z.object({ id: z.string(), revision: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const { revision } = await commitChange(
        ctx.db,
        ctx.actor,
        (entries) => `delete node ${namedObjects(entries)}`,
        async (tx, rec) => {
          const before = await tx.node.findUnique({ where: { id: input.id }, select: nodeSelect });
          if (!before) throw notFound(`node ${input.id}`);
          if (before.version !== input.version) throw conflict(`node ${before.name}`, before, input.version);
          await tx.node.delete({ where: { id: input.id } });
          rec.record({
            entityType: "Node",
            entityId: before.id,
            entityName: before.name,
            action: "delete",
            before,
            after: null,
          });
        },
      );
      return { id: input.id, revision: revision! };
    }),

  /** Withdraws the node credential; the agent must join again with a new join token. */
  revokeCredential: adminProcedure
    .meta({ openapi: { method: "POST", path: "/nodes/{id}/revoke", tags: ["nodes"] } })
    .input(z.object({ id: z.string().uuid() }))
    .output(nodeOutput)
    .mutation(async ({ ctx, input }) => {
      const { value } = await commitChange(ctx.db, ctx.actor, `revoke node credential`, async (tx, rec) => {
        const before = await tx.node.findUnique({ where: { id: input.id }, select: nodeSelect });
        if (!before) throw notFound(`node ${input.id}`);
        const after = await tx.node.update({
          where: { id: input.id },
          data: {
            joinState: "revoked",
            credentialHash: null,
            version: { increment: 1 },
            updatedBy: ctx.actor.name,
          },
          select: nodeSelect,
        });
        rec.record({
          entityType: "Node",
          entityId: after.id,
          entityName: after.name,
          action: "update",
          before,
          after,
        });
        return after;
      });
      return nodeOutputOf(value);
    }),
});
