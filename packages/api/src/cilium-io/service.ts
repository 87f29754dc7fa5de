// Cilium YAML in and out of the model. Parsing and mapping live in src/cilium (pure); this
// module decides what an import does (plan.ts: a query per batch of objects, not per object), writes it as
// one revision in batches (write.ts), and reads objects back for export.

import { TRPCError } from "@trpc/server";
import type { ExportableObject, StoredBgp } from "../cilium";
import type { Json } from "../cilium/walk";
import { FieldValidationError, fieldErrors } from "../errors";
import { type ResourceRow, resourceRegistry } from "../resources/define";
import type { ChangeRecorder, Tx } from "../revisions/commit";
import { type Decision, type Plan, planImport } from "./plan";
import type { ValidObject } from "./validate";
import { writeDecisions } from "./write";

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
 * Runs inside commitChange: all or nothing, one revision.
 */
export async function applyImport(
  tx: Tx,
  rec: ChangeRecorder,
  objects: ValidObject[],
  by: string,
  opts: { skipConflicts?: boolean } = {},
): Promise<ImportOutcome[]> {
  const plan = refuseProblems(await planImport(tx, objects));
  const conflicts = plan.decisions.filter((d) => d.action === "conflict");
  if (conflicts.length > 0 && !opts.skipConflicts) {
    throw new TRPCError({
      code: "CONFLICT",
      message: conflicts.map((c) => c.message).join("; "),
      cause: new FieldValidationError(
        conflicts.map((c) => ({ path: ["objects", conflictKey(c.v)], message: c.message })),
      ),
    });
  }
  const written = await writeDecisions(tx, plan.decisions, by, rec);
  return plan.decisions.map((d) => outcome(d, written.get(d.v) ?? null));
}

/**
 * What an import would do, without a transaction: the same reads, checks and version checks, with
 * conflicts listed per object. Nothing is locked, so it cannot hold up anyone.
 */
export async function checkImport(db: Tx, objects: ValidObject[]): Promise<ImportOutcome[]> {
  const plan = refuseProblems(await planImport(db, objects));
  return plan.decisions.map((d) => outcome(d, null));
}

function refuseProblems(plan: Plan): Plan {
  if (plan.problems.length > 0) throw fieldErrors(plan.problems);
  return plan;
}

const conflictKey = (v: ValidObject) => `${v.obj.kind} ${v.namespace ? `${v.namespace}/` : ""}${v.obj.name}`;

function outcome(d: Decision, after: ResourceRow | null): ImportOutcome {
  const base = { kind: d.v.obj.kind, name: d.v.obj.name, namespace: d.v.obj.namespace };
  switch (d.action) {
    case "create":
      return { ...base, action: "created", id: after?.id ?? null };
    case "update":
      return { ...base, action: "updated", id: d.before.id };
    case "unchanged":
      return { ...base, action: "unchanged", id: d.before.id };
    case "conflict":
      return { ...base, action: "conflict", id: d.before?.id ?? null, conflict: d.message };
  }
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

/**
 * The stored BGP peers and advertisements, which BGP documents imported on their own bind to; only
 * read when the YAML has BGP documents (BGP objects are few: a handful per node at most).
 */
export async function storedBgp(db: Tx, yaml: string): Promise<StoredBgp | undefined> {
  if (!yaml.includes("CiliumBGP")) return undefined;
  const read = (kind: string) =>
    resourceRegistry
      .get(kind)!
      .delegate(db)
      .findMany({ select: { name: true, spec: true }, orderBy: { name: "asc" } }) as Promise<
      { name: string; spec: Record<string, Json> }[]
    >;
  return { peers: await read("BgpPeer"), advertisements: await read("BgpAdvertisement") };
}
