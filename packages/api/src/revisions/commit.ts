// Every change to intent goes through commitChange: entity rows, audit rows and one new
// revision in a single transaction, then NOTIFY so every API replica wakes its subscribers.
import { randomUUID } from "node:crypto";
import type { Db } from "@meridian/db";
import type { Actor } from "../trpc";
import { announceLocalRevision } from "./local-feeds";

export const CHANGES_CHANNEL = "meridian_changes";

// One advisory lock serialises writers, so revision numbers become visible in commit order
// and "give me everything after N" can never skip a revision committed late.
const REVISION_LOCK = 0x4d455249; // "MERI"

export type Tx = Parameters<Parameters<Db["$transaction"]>[0]>[0];

export interface AuditRecord {
  entityType: string;
  entityId: string;
  entityName: string;
  action: "create" | "update" | "delete";
  before: unknown;
  after: unknown;
}

export interface ChangeRecorder {
  record(entry: AuditRecord): void;
}

// Hashes and tokens never enter the audit log; everything else is kept verbatim so any
// revision can be restored.
const NEVER_AUDITED = new Set(["passwordHash", "credentialHash", "tokenHash"]);

const auditReplacer = (k: string, v: unknown) =>
  NEVER_AUDITED.has(k) ? undefined : typeof v === "bigint" ? v.toString() : v;

export function auditSnapshot(row: unknown): unknown {
  if (row === null || row === undefined) return null;
  return JSON.parse(JSON.stringify(row, auditReplacer));
}

/** The objects of a change by kind and name (`network policy shop/db, web`), at most `max` named. */
export function namedObjects(
  entries: AuditRecord[],
  max = 10,
  kindOf?: (entityType: string) => string,
): string {
  const nameOf = (e: AuditRecord) => {
    const row = (e.after ?? e.before) as { namespace?: unknown } | null;
    const ns = typeof row?.namespace === "string" && row.namespace ? `${row.namespace}/` : "";
    return `${kindOf ? `${kindOf(e.entityType)} ` : ""}${ns}${e.entityName || e.entityId}`;
  };
  const shown = entries.slice(0, max).map(nameOf).join(", ");
  return entries.length > max ? `${shown} and ${entries.length - max} more` : shown;
}

/**
 * `message` is the revision's; as a function it is written from the change's own audit entries,
 * so a default message names the objects a delete or an import touched.
 */
export async function commitChange<T>(
  db: Db,
  actor: Actor,
  message: string | ((entries: AuditRecord[]) => string),
  fn: (tx: Tx, rec: ChangeRecorder) => Promise<T>,
): Promise<{ value: T; revision: number | null }> {
  const result = await db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${REVISION_LOCK}::bigint)`;
      const entries: AuditRecord[] = [];
      const value = await fn(tx, { record: (e) => entries.push(e) });
      if (entries.length === 0) return { value, revision: null };
      const rev = await tx.revision.create({
        data: {
          authorKind: actor.kind,
          authorId: actor.id,
          authorName: actor.name,
          message: (typeof message === "string" ? message : message(entries)).slice(0, 1000),
        },
      });
      for (let i = 0; i < entries.length; i += AUDIT_BATCH)
        await insertAuditEntries(tx, rev.number, entries.slice(i, i + AUDIT_BATCH));
      // Delivered at commit, never for a rolled-back change.
      await tx.$executeRaw`SELECT pg_notify(${CHANGES_CHANNEL}, ${String(rev.number)})`;
      return { value, revision: rev.number };
    },
    { maxWait: 15_000, timeout: 30_000 },
  );
  // Committed: this process's own subscribers need not wait for NOTIFY (or, where the database
  // drops NOTIFY, for the poll).
  if (result.revision !== null) announceLocalRevision(db, result.revision);
  return result;
}

// Audit rows go in as one INSERT per batch from a JSON array, not as Prisma's nested create: Prisma
// compiles a query on the event loop, and for an import's thousand entries that took 0.2-0.4 s.
// Small batches, so that other requests run while each is sent.
const AUDIT_BATCH = 200;

async function insertAuditEntries(tx: Tx, revisionNumber: number, entries: AuditRecord[]): Promise<void> {
  const rows = entries.map((e) => ({
    // Prisma makes @default(uuid()) ids in the client, so the table has no default to fall back on.
    id: randomUUID(),
    entityType: e.entityType,
    entityId: e.entityId,
    entityName: e.entityName,
    action: e.action,
    before: e.before ?? null,
    after: e.after ?? null,
  }));
  // One pass of auditSnapshot's replacer over the whole batch. A JSON null before/after (a
  // create's before) becomes SQL NULL, as Prisma's nested create wrote it.
  await tx.$executeRaw`
    INSERT INTO "AuditEntry" ("id", "revisionNumber", "entityType", "entityId", "entityName", "action", "before", "after")
    SELECT e."id", ${revisionNumber}, e."entityType", e."entityId", e."entityName", e."action"::"AuditAction", e."before", e."after"
    FROM jsonb_to_recordset(${JSON.stringify(rows, auditReplacer)}::jsonb)
      AS e("id" text, "entityType" text, "entityId" text, "entityName" text, "action" text, "before" jsonb, "after" jsonb)`;
}

export async function currentRevision(db: Db | Tx): Promise<number> {
  const r = await db.revision.findFirst({ orderBy: { number: "desc" }, select: { number: true } });
  return r?.number ?? 0;
}
