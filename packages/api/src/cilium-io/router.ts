// Cilium YAML import (operator) and export (viewer). Unsupported fields are reported by name,
// never dropped silently; an import is one revision, or nothing when any document is broken or
// any object changed since the export it came from (unless the caller asks to skip those).
// Reading and checking the YAML run in slices (slices.ts), so other requests are served meanwhile.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { exportCiliumYaml, type ImportOptions, type ImportResult, importCiliumYamlSteps } from "../cilium";
import { MAX_IMPORT_YAML_CHARS } from "../cilium/limits";
import { type FieldProblem, FieldValidationError, fieldErrors } from "../errors";
import { resourceRegistry } from "../resources/define";
import { commitChange, namedObjects, type Tx } from "../revisions/commit";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc";
import { applyImport, checkImport, collectForExport, EXPORTABLE_KINDS, storedBgp } from "./service";
import { runInSlices } from "./slices";

/** An entity type as people read it in a revision message: `network policy`, `BGP peer`. */
const kindLabel = (entityType: string) => resourceRegistry.get(entityType)?.label ?? entityType;

import { type ValidObject, validateImported } from "./validate";

const unsupported = z.array(
  z.object({
    object: z.string(),
    field: z.string(),
    reason: z.string().describe("what leaving the field behind does to traffic"),
    change: z
      .enum(["allows-more", "denies-more", "differs"])
      .optional()
      .describe(
        "set when the object imported without the field allows or denies other traffic than the original",
      ),
  }),
);
const skipped = z
  .array(
    z.object({
      document: z.number().int(),
      kind: z.string(),
      name: z.string().optional(),
      reason: z.string(),
    }),
  )
  .describe("documents of other kinds, left out of the import");

export const ciliumRouter = createTRPCRouter({
  import: operatorProcedure
    .meta({
      openapi: { method: "POST", path: "/cilium/import", tags: ["cilium"], summary: "Import Cilium YAML" },
      longText: { yaml: 5_000_000 },
    })
    .input(
      z.object({
        yaml: z.string().min(1, "paste at least one document").max(MAX_IMPORT_YAML_CHARS),
        dryRun: z.boolean().default(false).describe("validate and check versions only; nothing is written"),
        skipConflicts: z
          .boolean()
          .default(false)
          .describe(
            "import the objects that did not change since their export and leave the conflicting ones as they are (default: a conflict fails the whole import)",
          ),
        acknowledgeDifferences: z
          .boolean()
          .default(false)
          .describe(
            "import objects that would allow or deny other traffic than the original Cilium object (each difference is listed in unsupported); by default such objects fail the import",
          ),
        strict: z
          .boolean()
          .default(false)
          .describe(
            "fail the import for any field that is not carried over, not only for those that change traffic",
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
        skipped,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { parsed, objects } = await readImport(input.yaml, {
        acknowledgeDifferences: input.acknowledgeDifferences,
        strict: input.strict,
        stored: await storedBgp(ctx.db as unknown as Tx, input.yaml),
      });
      if (objects.length === 0 && !input.dryRun)
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: [
            "no Cilium objects to import in the YAML",
            ...parsed.skipped.map(
              (d) => `document ${d.document} (${d.kind}${d.name ? ` ${d.name}` : ""}): ${d.reason}`,
            ),
          ].join("; "),
        });
      if (input.dryRun) {
        const outcomes = await checkImport(ctx.db as unknown as Tx, objects);
        return {
          revision: null,
          objects: outcomes.map((o) =>
            o.action === "created" || o.action === "updated" ? { ...o, action: "would-apply" as const } : o,
          ),
          unsupported: parsed.unsupported,
          skipped: parsed.skipped,
        };
      }
      const { value, revision } = await commitChange(
        ctx.db,
        ctx.actor,
        input.message ??
          ((entries) => {
            const by = (action: string) => entries.filter((e) => e.action === action);
            const parts = [
              ["created", by("create")],
              ["updated", by("update")],
              ["deleted", by("delete")],
            ] as const;
            const named = parts
              .filter(([, es]) => es.length)
              .map(([word, es]) => `${word} ${namedObjects(es, 10, kindLabel)}`)
              .join("; ");
            return `import ${objects.length} Cilium object${objects.length === 1 ? "" : "s"}: ${named}`;
          }),
        (tx, rec) => applyImport(tx, rec, objects, ctx.actor.name, { skipConflicts: input.skipConflicts }),
      );
      return { revision, objects: value, unsupported: parsed.unsupported, skipped: parsed.skipped };
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

/** A thousand broken documents need not come back as a thousand messages. */
const MAX_REPORTED_PROBLEMS = 100;

/**
 * The YAML read, mapped and checked with the API's own schemas, before any query: every problem
 * at once, named by document and field (`yaml.document 3.metadata.name`), or 413 when it holds
 * more than one import may carry.
 */
async function readImport(
  yaml: string,
  options: ImportOptions,
): Promise<{ parsed: ImportResult; objects: ValidObject[] }> {
  const parsed = await runInSlices(importCiliumYamlSteps(yaml, options));
  if (parsed.tooLarge) {
    throw new TRPCError({
      code: "PAYLOAD_TOO_LARGE",
      message: parsed.tooLarge.message,
      cause: new FieldValidationError([{ path: ["yaml"], message: parsed.tooLarge.message }]),
    });
  }
  const { valid, problems } = await runInSlices(validateImported(parsed.objects));
  const all: FieldProblem[] = [
    ...parsed.errors.map((e) => ({
      path: ["yaml", `document ${e.document}`, ...(e.field ? [e.field] : [])],
      message: e.message,
    })),
    ...problems,
  ];
  if (all.length > MAX_REPORTED_PROBLEMS) {
    const more = all.length - MAX_REPORTED_PROBLEMS;
    throw fieldErrors([
      ...all.slice(0, MAX_REPORTED_PROBLEMS),
      { path: ["yaml"], message: `and ${more} more problem${more === 1 ? "" : "s"}` },
    ]);
  }
  if (all.length > 0) throw fieldErrors(all);
  return { parsed, objects: valid };
}
