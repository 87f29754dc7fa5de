// Agents' heartbeats written in batches (see ../batch.ts): every agent acknowledges every
// revision, so a change brings a thousand heartbeats at once, and one UPDATE serves all that
// arrive within `maxWaitMs`. Each caller still waits for its own row to be written.
import type { Db } from "@meridian/db";
import { KeyedBatch, type KeyedBatchOptions } from "../batch";

export interface Heartbeat {
  nodeId: string;
  at: Date;
  appliedRevision?: number | null;
  agentVersion?: string | null;
}

export class HeartbeatWriter {
  private readonly batch: KeyedBatch<Heartbeat>;

  constructor(db: Db, opts: Omit<KeyedBatchOptions<Heartbeat>, "merge"> = {}) {
    this.batch = new KeyedBatch<Heartbeat>(
      async (items) => {
        const batch = [...items.values()];
        const ids = batch.map((b) => b.nodeId);
        // Timestamps as UTC text: Prisma keeps DateTime as UTC in timestamp(3) columns.
        const ats = batch.map((b) => b.at.toISOString());
        const revs = batch.map((b) => b.appliedRevision ?? null);
        const vers = batch.map((b) => b.agentVersion ?? null);
        await db.$executeRaw`
          UPDATE "Node" AS n SET
            "lastHeartbeatAt" = (v.at::timestamptz AT TIME ZONE 'UTC')::timestamp(3),
            "appliedRevision" = COALESCE(v.rev, n."appliedRevision"),
            "agentVersion" = COALESCE(v.ver, n."agentVersion")
          FROM unnest(${ids}::text[], ${ats}::text[], ${revs}::int[], ${vers}::text[]) AS v(id, at, rev, ver)
          WHERE n."id" = v.id`;
        return undefined;
      },
      {
        maxWaitMs: 5,
        ...opts,
        // Two heartbeats of one node in a batch: the later one wins, field by field.
        merge: (earlier, later) => ({
          nodeId: later.nodeId,
          at: later.at,
          appliedRevision: later.appliedRevision ?? earlier.appliedRevision,
          agentVersion: later.agentVersion ?? earlier.agentVersion,
        }),
      },
    );
  }

  async write(h: Heartbeat): Promise<void> {
    await this.batch.add(h.nodeId, h);
  }
}

const writers = new WeakMap<Db, HeartbeatWriter>();

/** The writer for `db`, one per client so its batches share its connection pool. */
export function heartbeatWriter(db: Db): HeartbeatWriter {
  let w = writers.get(db);
  if (!w) {
    w = new HeartbeatWriter(db);
    writers.set(db, w);
  }
  return w;
}
