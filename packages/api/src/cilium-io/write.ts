// Writes an import's decisions in batches of IMPORT_WRITE_BATCH rows: one INSERT … SELECT and one
// UPDATE … FROM over jsonb_to_recordset per batch, instead of a query per object, then one read
// of the written rows for the audit. Plain SQL because Prisma compiles every query on the event
// loop, and a 250-row createMany took 100-200 ms of it. Runs inside commitChange: one revision.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { IMPORT_WRITE_BATCH } from "../cilium/limits";
import type { ResourceRow } from "../resources/define";
import type { ChangeRecorder, Tx } from "../revisions/commit";
import type { Decision } from "./plan";
import type { ValidObject } from "./validate";

type Create = Extract<Decision, { action: "create" }>;
type Update = Extract<Decision, { action: "update" }>;

/**
 * The columns an import writes besides `spec`, per table (the model's name), with their SQL
 * types: what `toStored` and `columns` of the kind's definition return. A kind not listed here
 * cannot be imported.
 */
const DATA_COLUMNS: Record<string, Record<string, "text" | "jsonb">> = {
  NetworkPolicy: {},
  EgressGatewayPolicy: {},
  BgpInstance: {},
  BgpPeer: { instanceName: "text", passwordCiphertext: "text" },
  BgpAdvertisement: {},
};

/** Prisma sets @updatedAt from the client, in UTC; so do we. */
const NOW = `($3::timestamptz AT TIME ZONE 'UTC')::timestamp(3)`;

/** Writes every create and update and records each in the revision, in decision order. */
export async function writeDecisions(
  tx: Tx,
  decisions: Decision[],
  by: string,
  rec: ChangeRecorder,
): Promise<Map<ValidObject, ResourceRow>> {
  const written = new Map<ValidObject, ResourceRow>();
  for (const [kind, list] of groupByKind(decisions.filter((d) => d.action === "create"))) {
    for (const batch of batches(list))
      for (const [v, row] of await insertBatch(tx, kind, batch, by)) written.set(v, row);
  }
  for (const [kind, list] of groupByKind(decisions.filter((d) => d.action === "update"))) {
    for (const batch of batches(list))
      for (const [v, row] of await updateBatch(tx, kind, batch, by)) written.set(v, row);
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

/** `spec` and the kind's data columns, checked against what the decisions carry. */
function dataColumns(kind: string, batch: (Create | Update)[]): [string, string][] {
  const extra = DATA_COLUMNS[kind];
  if (!extra) throw new Error(`an import cannot write ${kind}`);
  for (const { data } of batch) {
    const unknown = Object.keys(data).filter((k) => k !== "spec" && !(k in extra));
    if (unknown.length) throw new Error(`an import of ${kind} does not write ${unknown.join(", ")}`);
  }
  return [["spec", "jsonb"], ...Object.entries(extra)];
}

const recordset = (columns: [string, string][]) => columns.map(([c, type]) => `"${c}" ${type}`).join(", ");

/** The rows as Prisma reads them (dates, JSON), for the audit and the answer. */
async function readBack(tx: Tx, v: ValidObject, ids: string[]): Promise<Map<string, ResourceRow>> {
  const rows: ResourceRow[] = await v.def.delegate(tx).findMany({ where: { id: { in: ids } } });
  return new Map(rows.map((r) => [r.id, r]));
}

async function insertBatch(tx: Tx, kind: string, batch: Create[], by: string) {
  const def = batch[0]!.v.def;
  const columns: [string, string][] = [
    ["id", "text"],
    ["name", "text"],
    ...(def.namespaced ? ([["namespace", "text"]] as [string, string][]) : []),
    ...dataColumns(kind, batch),
  ];
  // Prisma makes @default(uuid()) ids in the client, so the table has no default to fall back on.
  const ids = batch.map(() => randomUUID());
  const records = batch.map(({ v, data }, i) => ({
    id: ids[i],
    name: v.obj.name,
    ...(def.namespaced ? { namespace: v.namespace } : {}),
    ...data,
  }));
  await tx.$executeRawUnsafe(
    `INSERT INTO "${kind}" (${columns.map(([c]) => `"${c}"`).join(", ")}, "updatedBy", "createdAt", "updatedAt")
     SELECT ${columns.map(([c]) => `r."${c}"`).join(", ")}, $2, ${NOW}, ${NOW}
     FROM jsonb_to_recordset($1::jsonb) AS r(${recordset(columns)})`,
    JSON.stringify(records),
    by,
    new Date().toISOString(),
  );
  const rows = await readBack(tx, batch[0]!.v, ids);
  return new Map(batch.map((d, i) => [d.v, rows.get(ids[i]!)!]));
}

async function updateBatch(tx: Tx, kind: string, batch: Update[], by: string) {
  const columns = dataColumns(kind, batch);
  const records = batch.map(({ before, data }) => ({ id: before.id, version: before.version, ...data }));
  // The version condition is the optimistic check a single update makes; under commitChange's
  // lock nothing can have moved since the rows were read, so a shortfall is a bug, not a race.
  const count = await tx.$executeRawUnsafe(
    `UPDATE "${kind}" AS t
     SET ${columns.map(([c]) => `"${c}" = u."${c}"`).join(", ")},
         "version" = t."version" + 1, "updatedBy" = $2, "updatedAt" = ${NOW}
     FROM jsonb_to_recordset($1::jsonb) AS u("id" text, "version" int, ${recordset(columns)})
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
  const rows = await readBack(
    tx,
    batch[0]!.v,
    batch.map((d) => d.before.id),
  );
  return new Map(batch.map((d) => [d.v, rows.get(d.before.id)!]));
}
