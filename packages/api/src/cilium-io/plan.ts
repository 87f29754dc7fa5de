// What an import will do, decided in memory from a query per batch of objects, never one per
// object: the existing rows (one query per IMPORT_WRITE_BATCH objects of a kind), the deletions
// behind stale versions (one per kind, only when an exported object is gone), and what the
// cross-object checks read (once per import).

import { canonicalJson } from "@meridian/model";
import { VERSION_ANNOTATION } from "../cilium/annotations";
import { IMPORT_WRITE_BATCH } from "../cilium/limits";
import type { FieldProblem } from "../errors";
import { type ResourceRow, resourceOrder } from "../resources/define";
import type { Tx } from "../revisions/commit";
import { ImportChecks } from "./checks";
import { pacer } from "./slices";
import { originField, qualified, type ResourceDefAny, type ValidObject, yamlPath } from "./validate";

export type Decision =
  | { action: "create"; v: ValidObject; data: Record<string, unknown> }
  | { action: "update"; v: ValidObject; before: ResourceRow; data: Record<string, unknown> }
  | { action: "unchanged"; v: ValidObject; before: ResourceRow }
  | { action: "conflict"; v: ValidObject; before: ResourceRow | null; message: string };

export interface Plan {
  decisions: Decision[];
  /** What create or update would refuse, by document and field. */
  problems: FieldProblem[];
}

interface Deletion {
  number: number;
  authorName: string;
  createdAt: Date;
}

const keyOf = (name: string, namespace: string) => `${namespace}\u0000${name}`;

export async function planImport(db: Tx, valid: ValidObject[]): Promise<Plan> {
  const byKind = new Map<string, ValidObject[]>();
  const ordered = [...valid].sort((a, b) => rank(a.obj.kind) - rank(b.obj.kind));
  for (const v of ordered) {
    const list = byKind.get(v.obj.kind);
    if (list) list.push(v);
    else byKind.set(v.obj.kind, [v]);
  }

  const existing = new Map<ValidObject, ResourceRow | null>();
  const deletions = new Map<ValidObject, Deletion>();
  for (const list of byKind.values()) {
    const rows = await existingRows(db, list[0]!.def, list);
    for (const v of list) existing.set(v, rows.get(keyOf(v.obj.name, v.namespace)) ?? null);
    const gone = list.filter((v) => v.obj.version !== undefined && !existing.get(v));
    if (gone.length > 0) for (const [v, d] of await deletionsOf(db, list[0]!.def, gone)) deletions.set(v, d);
  }
  const checks = await ImportChecks.load(db, valid);

  const decisions: Decision[] = [];
  const problems: FieldProblem[] = [];
  const pace = pacer();
  for (const v of ordered) {
    await pace();
    const before = existing.get(v) ?? null;
    const found = await checks.problems(v, before);
    if (found.length > 0) {
      const what = `${v.def.label} ${qualified(v.obj.name, v.namespace)}`;
      for (const p of found)
        problems.push({
          path: yamlPath(v.obj, originField(v.obj, p.path)),
          message: `${what}: ${p.message}`,
        });
      continue;
    }
    const spec = v.spec as never;
    const stored = v.def.toStored ? v.def.toStored(spec, before) : { spec };
    // jsonb does not keep key order, so compare canonical forms.
    const same = before !== null && canonicalJson(before.spec) === canonicalJson(stored.spec);
    const stale =
      v.obj.version === undefined || same ? null : staleness(v, v.obj.version, before, deletions.get(v));
    if (stale) {
      decisions.push({ action: "conflict", v, before, message: stale });
      continue;
    }
    if (same) {
      decisions.push({ action: "unchanged", v, before });
      continue;
    }
    const data = { spec: stored.spec as object, ...(stored.extra ?? {}), ...(v.def.columns?.(spec) ?? {}) };
    decisions.push(before ? { action: "update", v, before, data } : { action: "create", v, data });
    checks.written(v, before);
  }
  return { decisions, problems };
}

/** Instances before the peers that name them (the registry's one order, resources/define.ts). */
const rank = (kind: string) => {
  const i = resourceOrder().indexOf(kind);
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
};

/**
 * The rows these objects would replace, by namespace and name: one query per IMPORT_WRITE_BATCH
 * objects, so that no single answer is large enough to hold the event loop while it is decoded.
 */
async function existingRows(
  db: Tx,
  def: ResourceDefAny,
  list: ValidObject[],
): Promise<Map<string, ResourceRow>> {
  const out = new Map<string, ResourceRow>();
  for (let i = 0; i < list.length; i += IMPORT_WRITE_BATCH) {
    const batch = list.slice(i, i + IMPORT_WRITE_BATCH);
    const names = [...new Set(batch.map((v) => v.obj.name))];
    const where = def.namespaced
      ? { name: { in: names }, namespace: { in: [...new Set(batch.map((v) => v.namespace))] } }
      : { name: { in: names } };
    const rows: ResourceRow[] = await def.delegate(db).findMany({ where });
    for (const r of rows) out.set(keyOf(r.name, r.namespace ?? ""), r);
  }
  return out;
}

/** The latest deletion of each of these objects (exported, then deleted here), in one query. */
async function deletionsOf(
  db: Tx,
  def: ResourceDefAny,
  gone: ValidObject[],
): Promise<Map<ValidObject, Deletion>> {
  const entries = await db.auditEntry.findMany({
    where: {
      entityType: def.entityType,
      action: "delete",
      entityName: { in: [...new Set(gone.map((v) => v.obj.name))] },
    },
    orderBy: { revisionNumber: "desc" },
    select: {
      entityName: true,
      before: true,
      revision: { select: { number: true, authorName: true, createdAt: true } },
    },
  });
  const latest = new Map<string, Deletion>();
  for (const e of entries) {
    const namespace = def.namespaced
      ? String((e.before as { namespace?: unknown } | null)?.namespace ?? "")
      : "";
    const key = keyOf(e.entityName, namespace);
    if (!latest.has(key)) latest.set(key, e.revision);
  }
  const out = new Map<ValidObject, Deletion>();
  for (const v of gone) {
    const d = latest.get(keyOf(v.obj.name, v.namespace));
    if (d) out.set(v, d);
  }
  return out;
}

/**
 * Why an import based on `version` would overwrite someone's change, or null when it would not:
 * the object moved to another version, or it was deleted after the export. An object that never
 * existed here (YAML exported from another Meridian) is simply created.
 */
function staleness(
  v: ValidObject,
  version: number,
  before: ResourceRow | null,
  deleted: Deletion | undefined,
): string | null {
  const what = `${v.def.label} ${qualified(v.obj.name, v.namespace)}`;
  if (before) {
    if (before.version === version) return null;
    return `${what} was changed by ${before.updatedBy} at ${before.updatedAt.toISOString()} (now version ${before.version}; your YAML was exported at version ${version}). Export it again and reapply your change, or remove the ${VERSION_ANNOTATION} annotation to overwrite it.`;
  }
  if (!deleted) return null;
  return `${what} was deleted by ${deleted.authorName} at ${deleted.createdAt.toISOString()} (revision ${deleted.number}) after your YAML was exported at version ${version}. Remove the ${VERSION_ANNOTATION} annotation to create it again.`;
}
