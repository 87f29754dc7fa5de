// Revision history: the state of any entity at any revision is the `after` of its latest
// audit entry at or before that revision. Diff and restore are built on that one rule.
import type { Db } from "@meridian/db";
import { TRPCError } from "@trpc/server";
import { resourceOrder, resourceRegistry } from "../resources/define";
import type { ChangeRecorder, Tx } from "../revisions/commit";
import { diffJson, redact } from "./diff";

interface EntityKey {
  entityType: string;
  entityId: string;
}
const keyOf = (e: EntityKey) => `${e.entityType}/${e.entityId}`;

export interface EntityDiff {
  entityType: string;
  entityId: string;
  entityName: string;
  change: "added" | "removed" | "modified";
  before: unknown;
  after: unknown;
  fields: { path: string; before: unknown; after: unknown }[];
}

async function statesAt(db: Db | Tx, keys: EntityKey[], revisions: number[]) {
  const hi = Math.max(...revisions);
  const entries = await db.auditEntry.findMany({
    where: {
      revisionNumber: { lte: hi },
      OR: keys.map((k) => ({ entityType: k.entityType, entityId: k.entityId })),
    },
    orderBy: { revisionNumber: "asc" },
  });
  // For each entity, its snapshot after each revision of interest.
  const result = new Map<string, { name: string; at: Map<number, unknown> }>();
  for (const k of keys) result.set(keyOf(k), { name: "", at: new Map(revisions.map((r) => [r, null])) });
  for (const e of entries) {
    const slot = result.get(keyOf(e))!;
    slot.name = e.entityName;
    for (const r of revisions) if (e.revisionNumber <= r) slot.at.set(r, e.after ?? null);
  }
  return result;
}

async function touchedBetween(
  db: Db | Tx,
  lo: number,
  hi: number,
  types?: Set<string>,
): Promise<EntityKey[]> {
  const rows = await db.auditEntry.findMany({
    where: { revisionNumber: { gt: lo, lte: hi }, ...(types ? { entityType: { in: [...types] } } : {}) },
    select: { entityType: true, entityId: true },
    distinct: ["entityType", "entityId"],
  });
  return rows;
}

export async function diffRevisions(db: Db, from: number, to: number): Promise<EntityDiff[]> {
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  const keys = await touchedBetween(db, lo, hi);
  if (keys.length === 0) return [];
  const states = await statesAt(db, keys, [from, to]);
  const out: EntityDiff[] = [];
  for (const k of keys) {
    const s = states.get(keyOf(k))!;
    const before = redact(s.at.get(from));
    const after = redact(s.at.get(to));
    const fields = diffJson(before, after);
    if (fields.length === 0) continue;
    out.push({
      ...k,
      entityName: s.name,
      change: before === null ? "added" : after === null ? "removed" : "modified",
      before,
      after,
      fields: before === null || after === null ? [] : fields,
    });
  }
  return out.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

/**
 * Puts every intent object changed after `target` back the way it was at `target`, as one new
 * change in the caller's transaction. Inventory (nodes, endpoints) and people are not rolled
 * back: they describe the world, not intent.
 */
export async function restoreRevision(tx: Tx, rec: ChangeRecorder, target: number, by: string) {
  // Parents before children, so references resolve while restoring (deletes run in reverse).
  const order = resourceOrder();
  const restorable = new Set(order);
  const latest = await tx.revision.findFirst({ orderBy: { number: "desc" }, select: { number: true } });
  if (!latest || target > latest.number || target < 0) {
    throw new TRPCError({ code: "NOT_FOUND", message: `revision ${target} does not exist` });
  }
  const keys = await touchedBetween(tx, target, latest.number, restorable);
  if (keys.length === 0) return 0;
  const states = await statesAt(tx, keys, [target]);
  const rank = (t: string) => order.indexOf(t);
  const ordered = [...keys].sort((a, b) => rank(a.entityType) - rank(b.entityType));
  let changed = 0;

  for (const k of [...ordered].reverse()) {
    const def = resourceRegistry.get(k.entityType)!;
    const wanted = states.get(keyOf(k))!.at.get(target);
    if (wanted !== null) continue;
    const d = def.delegate(tx);
    const current = await d.findUnique({ where: { id: k.entityId } });
    if (!current) continue;
    await d.delete({ where: { id: k.entityId } });
    rec.record({ ...k, entityName: current.name, action: "delete", before: current, after: null });
    changed++;
  }
  for (const k of ordered) {
    const def = resourceRegistry.get(k.entityType)!;
    const wanted = states.get(keyOf(k))!.at.get(target) as Record<string, unknown> | null;
    if (wanted === null) continue;
    const d = def.delegate(tx);
    const current = await d.findUnique({ where: { id: k.entityId } });
    const data: Record<string, unknown> = {
      name: wanted.name,
      spec: wanted.spec,
      ...(def.namespaced ? { namespace: wanted.namespace ?? "" } : {}),
      ...(def.hasEnabled ? { enabled: wanted.enabled ?? true } : {}),
      ...(def.hasDescription ? { description: wanted.description ?? "" } : {}),
      ...("passwordCiphertext" in wanted ? { passwordCiphertext: wanted.passwordCiphertext ?? null } : {}),
      ...(def.columns?.(wanted.spec as never) ?? {}),
      updatedBy: by,
    };
    if (current && diffJson(redactForCompare(current, data), data).length === 0) continue;
    const after = current
      ? await d.update({ where: { id: k.entityId }, data: { ...data, version: { increment: 1 } } })
      : await d.create({ data: { ...data, id: k.entityId } });
    rec.record({
      ...k,
      entityName: after.name,
      action: current ? "update" : "create",
      before: current,
      after,
    });
    changed++;
  }
  return changed;
}

function redactForCompare(current: Record<string, unknown>, data: Record<string, unknown>) {
  return Object.fromEntries(Object.keys(data).map((k) => [k, k === "updatedBy" ? data[k] : current[k]]));
}
