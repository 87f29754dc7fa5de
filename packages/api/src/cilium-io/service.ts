// Cilium YAML in and out of the model. Parsing and mapping live in src/cilium (pure); this
// module writes the imported objects as one revision and reads objects back for export.

import type { ExportableObject, ImportedObject } from "../cilium";
import { canonicalJson } from "../compiler";
import { fieldErrors } from "../errors";
import { type ResourceRow, resourceRegistry } from "../resources/define";
import type { ChangeRecorder, Tx } from "../revisions/commit";

export interface ImportOutcome {
  kind: string;
  name: string;
  namespace: string | null;
  action: "created" | "updated" | "unchanged";
  id: string;
}

/** Creates or updates (by name) every imported object; validation failures name the document. */
export async function applyImport(
  tx: Tx,
  rec: ChangeRecorder,
  objects: ImportedObject[],
  by: string,
): Promise<ImportOutcome[]> {
  const out: ImportOutcome[] = [];
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
  return out;
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
      } as ExportableObject);
    }
  }
  return objects;
}
