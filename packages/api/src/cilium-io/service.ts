// Cilium YAML in and out of the model. Parsing and mapping live in src/cilium (pure); this
// module writes the imported objects as one revision and reads objects back for export.

import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import type { ExportableObject, ImportedObject } from "../cilium";
import { VERSION_ANNOTATION } from "../cilium/annotations";
import { canonicalJson } from "../compiler";
import { type FieldProblem, FieldValidationError, fieldErrors } from "../errors";
import { type ResourceDef, type ResourceRow, resourceRegistry } from "../resources/define";
import type { ChangeRecorder, Tx } from "../revisions/commit";

type ResourceDefAny = ResourceDef<z.ZodType, z.ZodType>;

export interface ImportOutcome {
  kind: string;
  name: string;
  namespace: string | null;
  action: "created" | "updated" | "unchanged" | "conflict";
  /** Null only for a conflict over an object deleted since the export. */
  id: string | null;
  /** For `conflict`: who changed (or deleted) the object since the version the YAML carries, and when. */
  conflict?: string;
}

/**
 * Creates or updates (by name) every imported object; validation failures name the document.
 * An object whose YAML carries `meridian.io/version` (a Meridian export) must still be at that
 * version: if someone changed or deleted it since, it is a conflict naming them. Conflicts fail the
 * whole import (every one of them listed) unless `skipConflicts`, which imports the rest and leaves
 * the conflicting objects as they are. YAML without a version creates or replaces as Cilium's does.
 */
export async function applyImport(
  tx: Tx,
  rec: ChangeRecorder,
  objects: ImportedObject[],
  by: string,
  opts: { skipConflicts?: boolean } = {},
): Promise<ImportOutcome[]> {
  const out: ImportOutcome[] = [];
  const conflicts: FieldProblem[] = [];
  // Instances before the peers that name them.
  const order = ["BgpInstance", "BgpPeer", "BgpAdvertisement", "NetworkPolicy", "EgressGatewayPolicy"];
  const sorted = [...objects.entries()].sort(([, a], [, b]) => order.indexOf(a.kind) - order.indexOf(b.kind));
  for (const [index, obj] of sorted) {
    const def = resourceRegistry.get(obj.kind);
    if (!def) continue;
    const namespace = def.namespaced ? (obj.namespace ?? "") : "";
    const parsed = def.spec.safeParse(obj.spec);
    if (!parsed.success) {
      throw fieldErrors(
        parsed.error.issues.map((i) => ({
          path: ["objects", index, "spec", ...i.path.map((p) => (typeof p === "number" ? p : String(p)))],
          message: i.message,
        })),
      );
    }
    const spec = parsed.data as never;
    const d = def.delegate(tx);
    const before: ResourceRow | null = await d.findFirst({
      where: { name: obj.name, ...(def.namespaced ? { namespace } : {}) },
    });
    try {
      await def.validate?.(tx, spec, { id: before?.id ?? null, name: obj.name, namespace });
    } catch (err) {
      const issues = (err as { cause?: { issues?: { path: (string | number)[]; message: string }[] } }).cause
        ?.issues;
      if (issues)
        throw fieldErrors(
          issues.map((i) => ({
            path: ["objects", index, ...i.path],
            message: `${obj.kind} ${obj.name}: ${i.message}`,
          })),
        );
      throw err;
    }
    const stored = def.toStored ? def.toStored(spec, before) : { spec };
    const stale =
      obj.version === undefined || (before && canonicalJson(before.spec) === canonicalJson(stored.spec))
        ? null
        : await staleness(tx, def, obj.version, before, obj.name, namespace);
    if (stale) {
      conflicts.push({ path: ["objects", `${obj.kind} ${qualified(obj.name, namespace)}`], message: stale });
      out.push({ ...outcome(obj), action: "conflict", id: before?.id ?? null, conflict: stale });
      continue;
    }
    const data = {
      spec: stored.spec as object,
      ...(stored.extra ?? {}),
      ...(def.columns?.(spec) ?? {}),
      updatedBy: by,
    };
    // jsonb does not keep key order, so compare canonical forms.
    if (before && canonicalJson(before.spec) === canonicalJson(stored.spec)) {
      out.push({
        kind: obj.kind,
        name: obj.name,
        namespace: obj.namespace,
        action: "unchanged",
        id: before.id,
      });
      continue;
    }
    const after: ResourceRow = before
      ? await d.update({ where: { id: before.id }, data: { ...data, version: { increment: 1 } } })
      : await d.create({ data: { ...data, name: obj.name, ...(def.namespaced ? { namespace } : {}) } });
    rec.record({
      entityType: obj.kind,
      entityId: after.id,
      entityName: after.name,
      action: before ? "update" : "create",
      before,
      after,
    });
    out.push({
      kind: obj.kind,
      name: obj.name,
      namespace: obj.namespace,
      action: before ? "updated" : "created",
      id: after.id,
    });
  }
  if (conflicts.length > 0 && !opts.skipConflicts) {
    throw new TRPCError({
      code: "CONFLICT",
      message: conflicts.map((c) => c.message).join("; "),
      cause: new FieldValidationError(conflicts),
    });
  }
  return out;
}

const qualified = (name: string, namespace: string) => (namespace ? `${namespace}/${name}` : name);
const outcome = (obj: ImportedObject) => ({ kind: obj.kind, name: obj.name, namespace: obj.namespace });

/**
 * Why an import based on `version` would overwrite someone's change, or null when it would not:
 * the object moved to another version, or it was deleted after the export. An object that never
 * existed here (YAML exported from another Meridian) is simply created.
 */
async function staleness(
  tx: Tx,
  def: ResourceDefAny,
  version: number,
  before: ResourceRow | null,
  name: string,
  namespace: string,
): Promise<string | null> {
  const what = `${def.label} ${qualified(name, namespace)}`;
  if (before) {
    if (before.version === version) return null;
    return `${what} was changed by ${before.updatedBy} at ${before.updatedAt.toISOString()} (now version ${before.version}; your YAML was exported at version ${version}). Export it again and reapply your change, or remove the ${VERSION_ANNOTATION} annotation to overwrite it.`;
  }
  const deleted = await tx.auditEntry.findFirst({
    where: {
      entityType: def.entityType,
      entityName: name,
      action: "delete",
      ...(def.namespaced ? { before: { path: ["namespace"], equals: namespace } } : {}),
    },
    orderBy: { revisionNumber: "desc" },
    select: { revision: { select: { number: true, authorName: true, createdAt: true } } },
  });
  if (!deleted) return null;
  const r = deleted.revision;
  return `${what} was deleted by ${r.authorName} at ${r.createdAt.toISOString()} (revision ${r.number}) after your YAML was exported at version ${version}. Remove the ${VERSION_ANNOTATION} annotation to create it again.`;
}

export const EXPORTABLE_KINDS = [
  "NetworkPolicy",
  "EgressGatewayPolicy",
  "BgpInstance",
  "BgpPeer",
  "BgpAdvertisement",
] as const;

export async function collectForExport(
  tx: Tx,
  kinds: readonly string[],
  namespace?: string,
): Promise<ExportableObject[]> {
  const objects: ExportableObject[] = [];
  for (const kind of kinds) {
    const def = resourceRegistry.get(kind);
    if (!def) continue;
    const where = def.namespaced && namespace !== undefined ? { namespace } : {};
    const rows: ResourceRow[] = await def.delegate(tx).findMany({ where, orderBy: { name: "asc" } });
    for (const r of rows) {
      // The MD5 password never leaves the control plane, not even in an export.
      const spec = r.spec as Record<string, unknown>;
      objects.push({
        kind,
        name: r.name,
        namespace: def.namespaced ? r.namespace || null : null,
        spec,
        version: r.version,
      } as ExportableObject);
    }
  }
  return objects;
}
