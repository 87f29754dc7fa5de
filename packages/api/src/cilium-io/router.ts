// Cilium YAML import (operator) and export (viewer). Unsupported fields are reported by name,
// never dropped silently; an import is one revision, or nothing when any document is broken.
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
    })
    .input(
      z.object({
        yaml: z.string().min(1, "paste at least one document").max(5_000_000),
        dryRun: z.boolean().default(false).describe("parse and validate only"),
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
            action: z.enum(["created", "updated", "unchanged", "would-apply"]),
            id: z.string().nullable(),
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
      if (input.dryRun) {
        return {
          revision: null,
          objects: parsed.objects.map((o) => ({
            kind: o.kind,
            name: o.name,
            namespace: o.namespace,
            action: "would-apply" as const,
            id: null,
          })),
          unsupported: parsed.unsupported,
        };
      }
      if (parsed.objects.length === 0)
        throw new TRPCError({ code: "BAD_REQUEST", message: "no Cilium objects found in the YAML" });
      const { value, revision } = await commitChange(
        ctx.db,
        ctx.actor,
        input.message ?? `import ${parsed.objects.length} Cilium object(s)`,
        (tx, rec) => applyImport(tx, rec, parsed.objects, ctx.actor.name),
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
          .union([z.enum(EXPORTABLE_KINDS), z.array(z.enum(EXPORTABLE_KINDS))])
          .optional()
          .describe("which Meridian kinds to export; all when absent"),
        namespace: z.string().optional(),
      }),
    )
    .output(z.object({ yaml: z.string(), unsupported }))
    .query(async ({ ctx, input }) => {
      const kinds = input.kinds === undefined ? EXPORTABLE_KINDS : [input.kinds].flat();
      const objects = await collectForExport(ctx.db as unknown as Tx, kinds, input.namespace);
      return exportCiliumYaml(objects);
    }),
});
