// Node credentials looked up in batches: agents authenticate on every heartbeat and report, and
// after a change a thousand of them do so at once. Lookups that arrive within `maxWaitMs` share
// one query (`= ANY`), so the connection pool queues one request instead of a thousand. The
// answer is the same as a lookup of its own: a joined node with that credential hash, or none.
import type { Db } from "@meridian/db";

export interface NodeIdentity {
  id: string;
  name: string;
}

type Waiter = { resolve: (n: NodeIdentity | undefined) => void; reject: (err: unknown) => void };

export class NodeCredentialLookup {
  private pending = new Map<string, Waiter[]>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly opts: { maxWaitMs?: number; maxBatch?: number } = {},
  ) {}

  find(credentialHash: string): Promise<NodeIdentity | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(credentialHash);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(credentialHash, [{ resolve, reject }]);
      if (this.pending.size >= (this.opts.maxBatch ?? 500)) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.opts.maxWaitMs ?? 2);
    });
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return;
    try {
      const rows = await this.db.$queryRaw<(NodeIdentity & { credentialHash: string })[]>`
        SELECT "id", "name", "credentialHash" FROM "Node"
        WHERE "credentialHash" = ANY(${[...batch.keys()]}::text[]) AND "joinState" = 'joined'`;
      const byHash = new Map(rows.map((r) => [r.credentialHash, { id: r.id, name: r.name }]));
      for (const [hash, waiters] of batch) for (const w of waiters) w.resolve(byHash.get(hash));
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }
}

const lookups = new WeakMap<Db, NodeCredentialLookup>();

export function nodeCredentials(db: Db): NodeCredentialLookup {
  let l = lookups.get(db);
  if (!l) {
    l = new NodeCredentialLookup(db);
    lookups.set(db, l);
  }
  return l;
}
