// Cilium YAML import (operator) and export (viewer). Unsupported fields are reported by name,
// never dropped silently; an import is one revision, or nothing when any document is broken or
// any object changed since the export it came from (unless the caller asks to skip those).
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { exportCiliumYaml, importCiliumYaml } from "../cilium";
import { fieldErrors } from "../errors";
import { commitChange, type Tx } from "../revisions/commit";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc";
import { applyImport, collectForExport, EXPORTABLE_KINDS } from "./service";

const unsupported = z.array(z.object({ object: z.string(), field: z.string(), reason: z.string() }));

export const ciliumRouter = createTRPCRouter({
  import: operatorProcedure
    .meta({
      openapi: { method: "POST", path: "/cilium/import", tags: ["cilium"], summary: "Import Cilium YAML" },
      longText: { yaml: 5_000_000 },
    })
    .input(
      z.object({
        yaml: z.string().min(1, "paste at least one document").max(5_000_000),
        dryRun: z.boolean().default(false).describe("validate and check versions only; nothing is written"),
        skipConflicts: z
          .boolean()
          .default(false)
          .describe(
            "import the objects that did not change since their export and leave the conflicting ones as they are (default: a conflict fails the whole import)",
          ),
        message: z.string().max(1000).optional(),
      }),
    )
    .output(
      z.object({
        revision: z.number().int().nullable(),
        objects: z.array(
          z.object({
            kind: z.string(),
            name: z.string(),
            namespace: z.string().nullable(),
            action: z.enum(["created", "updated", "unchanged", "would-apply", "conflict"]),
            id: z.string().nullable(),
            conflict: z
              .string()
              .optional()
              .describe("who changed or deleted the object since the exported version, and when"),
          }),
        ),
        unsupported,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const parsed = importCiliumYaml(input.yaml);
      if (parsed.errors.length) {
        throw fieldErrors(
          parsed.errors.map((e) => ({
            path: ["yaml", `document ${e.document}`, e.field],
            message: e.message,
          })),
        );
      }
      if (parsed.objects.length === 0 && !input.dryRun)
        throw new TRPCError({ code: "BAD_REQUEST", message: "no Cilium objects found in the YAML" });
      if (input.dryRun) {
        // The real import in a transaction that is always rolled back: the same validation and
        // version checks, conflicts listed per object instead of failing the check.
        const rollback = Symbol("dry run");
        let objects: Awaited<ReturnType<typeof applyImport>> = [];
        await ctx.db
          .$transaction(
            async (tx) => {
              objects = await applyImport(tx, { record() {} }, parsed.objects, ctx.actor.name, {
                skipConflicts: true,
              });
              throw rollback;
            },
            { maxWait: 15_000, timeout: 30_000 },
          )
          .catch((err: unknown) => {
            if (err !== rollback) throw err;
          });
        return {
          revision: null,
          objects: objects.map((o) =>
            o.action === "created"
              ? { ...o, action: "would-apply" as const, id: null }
              : o.action === "updated"
                ? { ...o, action: "would-apply" as const }
                : o,
          ),
          unsupported: parsed.unsupported,
        };
      }
      const { value, revision } = await commitChange(
        ctx.db,
        ctx.actor,
        input.message ?? `import ${parsed.objects.length} Cilium object(s)`,
        (tx, rec) =>
          applyImport(tx, rec, parsed.objects, ctx.actor.name, { skipConflicts: input.skipConflicts }),
      );
      return { revision, objects: value, unsupported: parsed.unsupported };
    }),

  export: viewerProcedure
    .meta({
      openapi: { method: "GET", path: "/cilium/export", tags: ["cilium"], summary: "Export as Cilium YAML" },
    })
    .input(
      z.object({
        kinds: z
          .union([
            z.enum(EXPORTABLE_KINDS),
            z
              .array(z.enum(EXPORTABLE_KINDS))
              .min(1, "name at least one kind, or leave kinds out")
              .max(EXPORTABLE_KINDS.length * 2),
          ])
          .optional()
          .describe("which Meridian kinds to export; all when absent"),
        namespace: z.string().max(63).optional(),
      }),
    )
    .output(z.object({ yaml: z.string(), unsupported }))
    .query(async ({ ctx, input }) => {
      const kinds = input.kinds === undefined ? EXPORTABLE_KINDS : [input.kinds].flat();
      const objects = await collectForExport(ctx.db as unknown as Tx, kinds, input.namespace);
      return exportCiliumYaml(objects);
    }),
});
