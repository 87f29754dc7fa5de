// The shape every spec-carrying object shares (network policies, egress policies, BGP,
// SRv6, services): list/get/create/update/delete with zod input and output schemas, an audit
// row and a revision per change, optimistic concurrency on `version`, and a hook for the
// cross-object checks only the database can answer (overlaps, uniqueness, gateway addresses).

import { INT32_MAX, limitSchema, MAX_TEXT, offsetSchema, searchSchema, versionSchema } from "@meridian/model";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { conflict, fieldError, isUniqueViolation, notFound } from "../errors";
import { commitChange, namedObjects, type Tx } from "../revisions/commit";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc";

/** The subset of a Prisma model delegate this layer uses (all our spec models share it). */
export interface Delegate {
  // biome-ignore lint/suspicious/noExplicitAny: Prisma's per-model arg types differ; the layer only passes plain data.
  findMany(args: any): Promise<any[]>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  findUnique(args: any): Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  findFirst(args: any): Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  count(args: any): Promise<number>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  create(args: any): Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  update(args: any): Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  delete(args: any): Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  upsert(args: any): Promise<any>;
}

export interface ResourceRow {
  id: string;
  name: string;
  namespace?: string;
  enabled?: boolean;
  description?: string;
  spec: unknown;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string;
  [k: string]: unknown;
}

export interface ResourceDef<S extends z.ZodType, O extends z.ZodType = S> {
  /** Audit entity type and the word used in messages, e.g. "NetworkPolicy". */
  entityType: string;
  label: string;
  /** REST path segment, e.g. "network-policies". */
  path: string;
  tag: string;
  delegate: (db: Tx) => Delegate;
  spec: S;
  namespaced?: boolean;
  hasEnabled?: boolean;
  hasDescription?: boolean;
  /** Extra columns derived from the spec (indexed or unique copies of spec fields). */
  columns?: (spec: z.output<S>) => Record<string, unknown>;
  /** Cross-object validation inside the write transaction; throw fieldError(s). */
  validate?: (
    tx: Tx,
    spec: z.output<S>,
    self: { id: string | null; name: string; namespace: string },
  ) => Promise<void>;
  /** Write-only parts of a spec (BGP passwords) move to their own columns here. */
  toStored?: (
    spec: z.output<S>,
    before: ResourceRow | null,
  ) => { spec: unknown; extra?: Record<string, unknown> };
  /** The spec as reads show it, and its schema, when that differs from what is written. */
  present?: (row: ResourceRow) => unknown;
  outputSpec?: O;
  /** Names a unique-constraint violation after the field a person has to change. */
  uniqueField?: (spec: z.output<S>) => { path: (string | number)[]; message: string } | null;
  /** Kinds an object of this kind may name (a peer its instance): written first, removed last. */
  dependsOn?: string[];
  /** Imported from and exported to Cilium YAML. */
  cilium?: boolean;
}

interface CreateInput<T> {
  name: string;
  namespace?: string;
  enabled: boolean;
  description: string;
  spec: T;
  message?: string;
}

export function resourceOutput<S extends z.ZodType, O extends z.ZodType>(def: ResourceDef<S, O>) {
  return z.object({
    id: z.string(),
    name: z.string(),
    ...(def.namespaced ? { namespace: z.string() } : {}),
    enabled: z.boolean(),
    description: z.string(),
    spec: (def.outputSpec ?? def.spec) as O,
    version: z.number().int(),
    createdAt: z.date(),
    updatedAt: z.date(),
    updatedBy: z.string(),
  });
}

export const nameSchema = z
  .string()
  .min(1, "required")
  .max(253, "at most 253 characters")
  .regex(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
  );
export const namespaceSchema = z
  .string()
  .max(63)
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, "a Kubernetes namespace name, or empty for cluster-wide");

/** Every defined resource by entity type, so revisions can be restored generically. */
export const resourceRegistry = new Map<string, ResourceDef<z.ZodType, z.ZodType>>();

/**
 * Every resource kind, each after the kinds it depends on (then by name): the one order in which
 * restores and imports write (and, reversed, delete). Computed from `dependsOn`.
 */
export function resourceOrder(): string[] {
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (kind: string, path: string[]) => {
    if (state.get(kind) === "done") return;
    if (state.get(kind) === "visiting")
      throw new Error(`resource kinds depend on each other: ${[...path, kind].join(" → ")}`);
    state.set(kind, "visiting");
    for (const dep of [...(resourceRegistry.get(kind)?.dependsOn ?? [])].sort()) visit(dep, [...path, kind]);
    state.set(kind, "done");
    out.push(kind);
  };
  for (const kind of [...resourceRegistry.keys()].sort()) visit(kind, []);
  return out;
}

/** A comparator that sorts kinds (or anything with a kind) into `resourceOrder()`. */
export function byResourceOrder<T>(kindOf: (item: T) => string): (a: T, b: T) => number {
  const rank = new Map(resourceOrder().map((k, i) => [k, i]));
  const r = (k: string) => rank.get(k) ?? Number.MAX_SAFE_INTEGER;
  return (a, b) => r(kindOf(a)) - r(kindOf(b));
}

export function defineResource<S extends z.ZodType, O extends z.ZodType = S>(def: ResourceDef<S, O>) {
  resourceRegistry.set(def.entityType, def as unknown as ResourceDef<z.ZodType, z.ZodType>);
  const output = resourceOutput(def);
  // Resolvers return `as never` below: tRPC cannot relate a generic S to its own output type, and
  // the `.output()` schema checks every response at run time anyway.
  type Output = z.output<typeof output>;
  const toOutput = (row: ResourceRow): Output =>
    ({
      ...row,
      spec: def.present ? def.present(row) : row.spec,
      enabled: row.enabled ?? true,
      description: row.description ?? "",
    }) as unknown as Output;
  const base: `/${string}` = `/${def.path}`;
  const one: `/${string}` = `${base}/{id}`;
  const tags = [def.tag];

  const listInput = z.object({
    ...(def.namespaced
      ? { namespace: z.string().max(63).optional().describe('exact namespace; "" for cluster-wide') }
      : {}),
    search: searchSchema.optional().describe("substring of the name"),
    // Query strings carry text: "false" must mean false, which z.coerce.boolean() would not do.
    ...(def.hasEnabled ? { enabled: queryBoolean().optional() } : {}),
    limit: limitSchema(500, 100),
    offset: offsetSchema,
  });

  const createInput = z.object({
    name: nameSchema,
    ...(def.namespaced ? { namespace: namespaceSchema.default("") } : {}),
    enabled: z.boolean().default(true),
    description: z.string().max(MAX_TEXT.description).default(""),
    spec: def.spec,
    message: z.string().max(MAX_TEXT.message).optional().describe("revision message"),
  });

  const updateInput = z.object({
    id: z.string().uuid(),
    version: z.number().int().min(1).max(INT32_MAX).describe("the version this edit is based on"),
    enabled: z.boolean().optional(),
    description: z.string().max(MAX_TEXT.description).optional(),
    spec: def.spec.optional(),
    message: z.string().max(MAX_TEXT.message).optional(),
  });

  const deleteInput = z.object({
    id: z.string().uuid(),
    version: versionSchema,
    message: z.string().max(MAX_TEXT.message).optional(),
  });

  function rowData(spec: z.output<S>, before: ResourceRow | null) {
    const stored = def.toStored ? def.toStored(spec, before) : { spec };
    return { spec: stored.spec as object, ...(stored.extra ?? {}), ...(def.columns?.(spec) ?? {}) };
  }

  function onUnique(err: unknown, spec: z.output<S>, name: string, namespace: string): never {
    if (isUniqueViolation(err)) {
      const hint = def.uniqueField?.(spec);
      const target = String((err as { meta?: { target?: unknown } }).meta?.target ?? "");
      if (hint && !/name/.test(target)) throw fieldError(hint.path, hint.message);
      throw fieldError(
        ["name"],
        `a ${def.label} named ${namespace ? `${namespace}/` : ""}${name} already exists`,
      );
    }
    throw err;
  }

  return createTRPCRouter({
    list: viewerProcedure
      .meta({ openapi: { method: "GET", path: base, tags, summary: `List ${def.label}s` } })
      .input(listInput)
      .output(z.object({ items: z.array(output), total: z.number().int() }))
      .query(async ({ ctx, input: raw }) => {
        const input = raw as {
          namespace?: string;
          search?: string;
          enabled?: boolean;
          limit: number;
          offset: number;
        };
        const where: Record<string, unknown> = {};
        if (def.namespaced && input.namespace !== undefined) where.namespace = input.namespace;
        if (input.search) where.name = { contains: input.search, mode: "insensitive" };
        if (def.hasEnabled && input.enabled !== undefined) where.enabled = input.enabled;
        const d = def.delegate(ctx.db as unknown as Tx);
        const [rows, total] = await Promise.all([
          d.findMany({
            where,
            orderBy: [...(def.namespaced ? [{ namespace: "asc" }] : []), { name: "asc" }],
            take: input.limit,
            skip: input.offset,
          }),
          d.count({ where }),
        ]);
        return { items: rows.map(toOutput), total } as never;
      }),

    get: viewerProcedure
      .meta({ openapi: { method: "GET", path: one, tags, summary: `Get one ${def.label}` } })
      .input(z.object({ id: z.string().uuid() }))
      .output(output)
      .query(async ({ ctx, input }) => {
        const row = await def.delegate(ctx.db as unknown as Tx).findUnique({ where: { id: input.id } });
        if (!row) throw notFound(`${def.label} ${input.id}`);
        return toOutput(row) as never;
      }),

    create: operatorProcedure
      .meta({ openapi: { method: "POST", path: base, tags, summary: `Create a ${def.label}` } })
      .input(createInput)
      .output(output.extend({ revision: z.number().int() }))
      .mutation(async ({ ctx, input: raw }) => {
        const input = raw as unknown as CreateInput<z.output<S>>;
        const namespace = input.namespace ?? "";
        const spec = input.spec as z.output<S>;
        try {
          const { value, revision } = await commitChange(
            ctx.db,
            ctx.actor,
            input.message ?? `create ${def.label} ${namespace ? `${namespace}/` : ""}${input.name}`,
            async (tx, rec) => {
              await def.validate?.(tx, spec, { id: null, name: input.name, namespace });
              const row: ResourceRow = await def.delegate(tx).create({
                data: {
                  name: input.name,
                  ...(def.namespaced ? { namespace } : {}),
                  ...(def.hasEnabled ? { enabled: input.enabled } : {}),
                  ...(def.hasDescription ? { description: input.description } : {}),
                  ...rowData(spec, null),
                  updatedBy: ctx.actor.name,
                },
              });
              rec.record({
                entityType: def.entityType,
                entityId: row.id,
                entityName: row.name,
                action: "create",
                before: null,
                after: row,
              });
              return row;
            },
          );
          return { ...toOutput(value), revision: revision! } as never;
        } catch (err) {
          onUnique(err, spec, input.name, namespace);
        }
      }),

    update: operatorProcedure
      .meta({ openapi: { method: "PATCH", path: one, tags, summary: `Update a ${def.label}` } })
      .input(updateInput)
      .output(output.extend({ revision: z.number().int().nullable() }))
      .mutation(async ({ ctx, input }) => {
        let name = "";
        let namespace = "";
        let spec: z.output<S> | undefined;
        try {
          const { value, revision } = await commitChange(
            ctx.db,
            ctx.actor,
            input.message ?? ((entries) => `update ${def.label} ${namedObjects(entries)}`),
            async (tx, rec) => {
              const d = def.delegate(tx);
              const before: ResourceRow | null = await d.findUnique({ where: { id: input.id } });
              if (!before) throw notFound(`${def.label} ${input.id}`);
              name = before.name;
              namespace = before.namespace ?? "";
              if (before.version !== input.version)
                throw conflict(`${def.label} ${name}`, before, input.version);
              spec = (input.spec ?? before.spec) as z.output<S>;
              if (input.spec !== undefined)
                await def.validate?.(tx, spec, { id: before.id, name, namespace });
              const after: ResourceRow = await d.update({
                where: { id: input.id, version: input.version },
                data: {
                  ...(input.spec !== undefined ? rowData(spec, before) : {}),
                  ...(def.hasEnabled && input.enabled !== undefined ? { enabled: input.enabled } : {}),
                  ...(def.hasDescription && input.description !== undefined
                    ? { description: input.description }
                    : {}),
                  version: { increment: 1 },
                  updatedBy: ctx.actor.name,
                },
              });
              rec.record({
                entityType: def.entityType,
                entityId: after.id,
                entityName: after.name,
                action: "update",
                before,
                after,
              });
              return after;
            },
          );
          return { ...toOutput(value), revision } as never;
        } catch (err) {
          if (err instanceof TRPCError || !spec) throw err;
          onUnique(err, spec, name, namespace);
        }
      }),

    delete: operatorProcedure
      .meta({ openapi: { method: "DELETE", path: one, tags, summary: `Delete a ${def.label}` } })
      .input(deleteInput)
      .output(z.object({ id: z.string(), revision: z.number().int() }))
      .mutation(async ({ ctx, input }) => {
        const { revision } = await commitChange(
          ctx.db,
          ctx.actor,
          input.message ?? ((entries) => `delete ${def.label} ${namedObjects(entries)}`),
          async (tx, rec) => {
            const d = def.delegate(tx);
            const before: ResourceRow | null = await d.findUnique({ where: { id: input.id } });
            if (!before) throw notFound(`${def.label} ${input.id}`);
            if (before.version !== input.version)
              throw conflict(`${def.label} ${before.name}`, before, input.version);
            await d.delete({ where: { id: input.id } });
            rec.record({
              entityType: def.entityType,
              entityId: before.id,
              entityName: before.name,
              action: "delete",
              before,
              after: null,
            });
          },
        );
        return { id: input.id, revision: revision! } as never;
      }),
  });
}

/** A boolean filter that accepts `true` from TypeScript and `"true"`/`"false"` from a query string. */
export function queryBoolean() {
  return z.preprocess(
    (v) => (typeof v === "boolean" ? String(v) : v),
    z.enum(["true", "false"], { error: "must be true or false" }).transform((v) => v === "true"),
  );
}
