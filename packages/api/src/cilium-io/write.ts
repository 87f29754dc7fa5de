// Writes an import's decisions in batches of IMPORT_WRITE_BATCH rows: one INSERT … RETURNING per
// batch of new objects, one UPDATE … FROM jsonb_to_recordset per batch of changed ones, instead
// of a query per object. Runs inside commitChange, so the import stays one revision.
import { TRPCError } from "@trpc/server";
import { IMPORT_WRITE_BATCH } from "../cilium/limits";
import type { ResourceRow } from "../resources/define";
import type { ChangeRecorder, Tx } from "../revisions/commit";
import type { Decision } from "./plan";
import type { ValidObject } from "./validate";

/**
 * The columns an import writes besides `spec`, per table, with their SQL types: what `toStored`
 * and `columns` of the kind's definition return. A kind not listed here cannot be updated in bulk.
 */
const UPDATE_COLUMNS: Record<string, Record<string, "text" | "jsonb">> = {
  NetworkPolicy: {},
  EgressGatewayPolicy: {},
  BgpInstance: {},
  BgpPeer: { instanceName: "text", passwordCiphertext: "text" },
  BgpAdvertisement: {},
};

function groupByKind<D extends Decision>(decisions: D[]): Map<string, D[]> {
  const out = new Map<string, D[]>();
  for (const d of decisions) {
    const list = out.get(d.v.obj.kind);
    if (list) list.push(d);
    else out.set(d.v.obj.kind, [d]);
  }
  return out;
}

function* batches<T>(items: T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += IMPORT_WRITE_BATCH) yield items.slice(i, i + IMPORT_WRITE_BATCH);
}

/** Writes every create and update and records each in the revision, in decision order. */
export async function writeDecisions(tx: Tx, decisions: Decision[], by: string, rec: ChangeRecorder) {
  const written = new Map<ValidObject, ResourceRow>();
  const creates = groupByKind(decisions.filter((d) => d.action === "create"));
  const updates = groupByKind(decisions.filter((d) => d.action === "update"));
  for (const list of creates.values()) {
    for (const batch of batches(list)) {
      const def = batch[0]!.v.def;
      const rows: ResourceRow[] = await (def.delegate(tx) as unknown as CreateMany).createManyAndReturn({
        data: batch.map(({ v, data }) => ({
          ...data,
          name: v.obj.name,
          ...(def.namespaced ? { namespace: v.namespace } : {}),
          updatedBy: by,
        })),
      });
      const byKey = new Map(rows.map((r) => [`${r.namespace ?? ""}\u0000${r.name}`, r]));
      for (const { v } of batch) written.set(v, byKey.get(`${v.namespace}\u0000${v.obj.name}`)!);
    }
  }
  for (const [kind, list] of updates) {
    for (const batch of batches(list)) {
      for (const [v, row] of await updateBatch(tx, kind, batch, by)) written.set(v, row);
    }
  }
  for (const d of decisions) {
    if (d.action !== "create" && d.action !== "update") continue;
    const after = written.get(d.v)!;
    rec.record({
      entityType: d.v.def.entityType,
      entityId: after.id,
      entityName: after.name,
      action: d.action,
      before: d.action === "update" ? d.before : null,
      after,
    });
  }
  return written;
}

interface CreateMany {
  createManyAndReturn(args: { data: object[] }): Promise<ResourceRow[]>;
}

async function updateBatch(
  tx: Tx,
  kind: string,
  batch: Extract<Decision, { action: "update" }>[],
  by: string,
): Promise<Map<ValidObject, ResourceRow>> {
  const extra = UPDATE_COLUMNS[kind];
  if (!extra) throw new Error(`no bulk update for ${kind}`);
  const columns = Object.entries(extra);
  const records = batch.map(({ before, data }) => {
    const unknown = Object.keys(data).filter((k) => k !== "spec" && !(k in extra));
    if (unknown.length) throw new Error(`bulk update of ${kind} does not write ${unknown.join(", ")}`);
    return { id: before.id, version: before.version, ...data };
  });
  const set = columns.map(([c]) => `, "${c}" = u."${c}"`).join("");
  const types = columns.map(([c, type]) => `, "${c}" ${type}`).join("");
  // The version condition is the same optimistic check a single update makes; under commitChange's
  // lock nothing can have moved since the rows were read, so a shortfall is a bug, not a race.
  const count = await tx.$executeRawUnsafe(
    `UPDATE "${kind}" AS t SET "spec" = u."spec"${set}, "version" = t."version" + 1, "updatedBy" = $2,
       "updatedAt" = ($3::timestamptz AT TIME ZONE 'UTC')::timestamp(3)
     FROM jsonb_to_recordset($1::jsonb) AS u("id" text, "version" int, "spec" jsonb${types})
     WHERE t."id" = u."id" AND t."version" = u."version"`,
    JSON.stringify(records),
    by,
    new Date().toISOString(),
  );
  if (count !== batch.length)
    throw new TRPCError({
      code: "CONFLICT",
      message: `${batch.length - count} of the ${kind} objects changed while the import was written; nothing was imported, try again`,
    });
  const def = batch[0]!.v.def;
  const rows: ResourceRow[] = await def
    .delegate(tx)
    .findMany({ where: { id: { in: batch.map((d) => d.before.id) } } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return new Map(batch.map((d) => [d.v, byId.get(d.before.id)!]));
}
