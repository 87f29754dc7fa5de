// Agents' heartbeats written in batches. Every agent acknowledges every revision, so a change
// brings a thousand heartbeats within the same few hundred milliseconds; one UPDATE per batch of
// those that arrived within `maxWaitMs` costs the database (and this process) a fraction of a
// thousand single-row UPDATEs. Each caller still waits for its own row to be written.
import type { Db } from "@meridian/db";

export interface Heartbeat {
  nodeId: string;
  at: Date;
  appliedRevision?: number | null;
  agentVersion?: string | null;
}

interface Pending extends Heartbeat {
  done: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

export class HeartbeatWriter {
  private pending = new Map<string, Pending>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly opts: { maxWaitMs?: number; maxBatch?: number } = {},
  ) {}

  write(h: Heartbeat): Promise<void> {
    return new Promise((resolve, reject) => {
      const prev = this.pending.get(h.nodeId);
      if (prev) {
        // Two heartbeats of one node in a batch: the later one wins, field by field.
        prev.at = h.at;
        prev.appliedRevision = h.appliedRevision ?? prev.appliedRevision;
        prev.agentVersion = h.agentVersion ?? prev.agentVersion;
        prev.done.push({ resolve, reject });
      } else {
        this.pending.set(h.nodeId, { ...h, done: [{ resolve, reject }] });
      }
      if (this.pending.size >= (this.opts.maxBatch ?? 500)) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.opts.maxWaitMs ?? 5);
    });
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length === 0) return;
    const ids = batch.map((b) => b.nodeId);
    // Timestamps as UTC text: Prisma keeps DateTime as UTC in timestamp(3) columns.
    const ats = batch.map((b) => b.at.toISOString());
    const revs = batch.map((b) => b.appliedRevision ?? null);
    const vers = batch.map((b) => b.agentVersion ?? null);
    try {
      await this.db.$executeRaw`
        UPDATE "Node" AS n SET
          "lastHeartbeatAt" = (v.at::timestamptz AT TIME ZONE 'UTC')::timestamp(3),
          "appliedRevision" = COALESCE(v.rev, n."appliedRevision"),
          "agentVersion" = COALESCE(v.ver, n."agentVersion")
        FROM unnest(${ids}::text[], ${ats}::text[], ${revs}::int[], ${vers}::text[]) AS v(id, at, rev, ver)
        WHERE n."id" = v.id`;
      for (const b of batch) for (const d of b.done) d.resolve();
    } catch (err) {
      for (const b of batch) for (const d of b.done) d.reject(err);
    }
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
