// Endpoints (pods) and the identities allocated for their label sets. Agents report their
// own endpoints through the agent channel; operators can register endpoints by hand.

import {
  endpointSpecSchema,
  INT32_MAX,
  MAX_TEXT,
  offsetSchema,
  queryInt,
  searchSchema,
  versionSchema,
} from "@meridian/model";
import { z } from "zod";
import { conflict, notFound } from "../errors";
import { queryBoolean } from "../resources/define";
import { commitChange } from "../revisions/commit";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc";
import { endpointInclude, endpointOutputOf, upsertEndpoint, withSelectingPolicies } from "./service";

export const endpointOutput = z.object({
  id: z.string(),
  node: z.string(),
  namespace: z.string(),
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  ipv4: z.string().nullable(),
  ipv6: z.string().nullable(),
  /** Named container ports, which policies' named ports resolve to. */
  ports: z.array(
    z.object({ name: z.string(), port: z.number().int(), protocol: z.enum(["TCP", "UDP", "SCTP"]) }),
  ),
  identityNumber: z.number().int(),
  version: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
  updatedBy: z.string(),
});

const identityOutput = z.object({
  number: z.number().int(),
  labels: z.record(z.string(), z.string()),
  createdAt: z.date(),
  endpointCount: z.number().int(),
});

export const endpointsRouter = createTRPCRouter({
  list: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/endpoints", tags: ["endpoints"] } })
    .input(
      z.object({
        node: z.string().max(MAX_TEXT.name).optional(),
        namespace: z.string().max(63).optional(),
        identity: queryInt(0, INT32_MAX).optional(),
        search: searchSchema.optional(),
        limit: queryInt(1, 1000).default(100),
        offset: offsetSchema,
        selectedBy: queryBoolean()
          .optional()
          .describe("also list the policies that select each endpoint (the compiler's own rule)"),
      }),
    )
    .output(
      z.object({
        items: z.array(
          endpointOutput.extend({
            selectedBy: z.array(z.object({ id: z.string(), name: z.string() })).optional(),
          }),
        ),
        total: z.number().int(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const where = {
        ...(input.node ? { node: { name: input.node } } : {}),
        ...(input.namespace ? { namespace: input.namespace } : {}),
        ...(input.identity !== undefined ? { identityNumber: input.identity } : {}),
        ...(input.search ? { name: { contains: input.search, mode: "insensitive" as const } } : {}),
      };
      const [rows, total] = await Promise.all([
        ctx.db.endpoint.findMany({
          where,
          include: endpointInclude,
          orderBy: [{ namespace: "asc" }, { name: "asc" }],
          take: input.limit,
          skip: input.offset,
        }),
        ctx.db.endpoint.count({ where }),
      ]);
      const items = rows.map(endpointOutputOf);
      if (!input.selectedBy) return { items, total };
      return { items: await withSelectingPolicies(ctx.db, items), total };
    }),

  get: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/endpoints/{id}", tags: ["endpoints"] } })
    .input(z.object({ id: z.string().uuid() }))
    .output(endpointOutput)
    .query(async ({ ctx, input }) => {
      const row = await ctx.db.endpoint.findUnique({ where: { id: input.id }, include: endpointInclude });
      if (!row) throw notFound(`endpoint ${input.id}`);
      return endpointOutputOf(row);
    }),

  upsert: operatorProcedure
    .meta({ openapi: { method: "PUT", path: "/endpoints", tags: ["endpoints"] } })
    .input(
      endpointSpecSchema.extend({
        version: z.number().int().min(1).max(INT32_MAX).optional().describe("required when replacing"),
      }),
    )
    .output(endpointOutput.extend({ revision: z.number().int().nullable() }))
    .mutation(async ({ ctx, input }) => {
      const { version, ...spec } = input;
      const { value, revision } = await commitChange(
        ctx.db,
        ctx.actor,
        `upsert endpoint ${spec.namespace}/${spec.name}`,
        async (tx, rec) => {
          const existing = await tx.endpoint.findUnique({
            where: { namespace_name: { namespace: spec.namespace, name: spec.name } },
          });
          if (existing && version !== undefined && existing.version !== version) {
            throw conflict(`endpoint ${spec.namespace}/${spec.name}`, existing, version);
          }
          return upsertEndpoint(tx, rec, spec, ctx.actor.name);
        },
      );
      return { ...endpointOutputOf(value), revision };
    }),

  delete: operatorProcedure
    .meta({ openapi: { method: "DELETE", path: "/endpoints/{id}", tags: ["endpoints"] } })
    .input(z.object({ id: z.string().uuid(), version: versionSchema }))
    .output(z.object({ id: z.string(), revision: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const { revision } = await commitChange(ctx.db, ctx.actor, "delete endpoint", async (tx, rec) => {
        const before = await tx.endpoint.findUnique({ where: { id: input.id }, include: endpointInclude });
        if (!before) throw notFound(`endpoint ${input.id}`);
        if (before.version !== input.version)
          throw conflict(`endpoint ${before.namespace}/${before.name}`, before, input.version);
        await tx.endpoint.delete({ where: { id: input.id } });
        rec.record({
          entityType: "Endpoint",
          entityId: before.id,
          entityName: `${before.namespace}/${before.name}`,
          action: "delete",
          before,
          after: null,
        });
      });
      return { id: input.id, revision: revision! };
    }),
});

export const identitiesRouter = createTRPCRouter({
  list: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/identities", tags: ["endpoints"] } })
    .input(
      z.object({
        limit: queryInt(1, 1000).default(100),
        offset: offsetSchema,
        label: z.string().max(400).optional().describe("key=value that the identity's labels must contain"),
      }),
    )
    .output(z.object({ items: z.array(identityOutput), total: z.number().int() }))
    .query(async ({ ctx, input }) => {
      const [k, v] = input.label ? input.label.split("=", 2) : [];
      const where = k ? { labels: { path: [k], equals: v ?? "" } } : {};
      const [rows, total] = await Promise.all([
        ctx.db.identity.findMany({
          where,
          orderBy: { number: "asc" },
          take: input.limit,
          skip: input.offset,
          include: { _count: { select: { endpoints: true } } },
        }),
        ctx.db.identity.count({ where }),
      ]);
      return {
        items: rows.map((r) => ({
          number: r.number,
          labels: r.labels as Record<string, string>,
          createdAt: r.createdAt,
          endpointCount: r._count.endpoints,
        })),
        total,
      };
    }),
});
