// Node credentials looked up in batches (see ../batch.ts): agents authenticate on every
// heartbeat and report, and after a change a thousand of them do so at once. Lookups that arrive
// within `maxWaitMs` share one `= ANY` query. The answer is the same as a lookup of its own: a
// joined node with that credential hash, or none.
import type { Db } from "@meridian/db";
import { KeyedBatch, type KeyedBatchOptions } from "../batch";

export interface NodeIdentity {
  id: string;
  name: string;
}

export class NodeCredentialLookup {
  private readonly batch: KeyedBatch<null, NodeIdentity>;

  constructor(db: Db, opts: Omit<KeyedBatchOptions<null>, "merge"> = {}) {
    this.batch = new KeyedBatch<null, NodeIdentity>(
      async (hashes) => {
        const rows = await db.$queryRaw<(NodeIdentity & { credentialHash: string })[]>`
          SELECT "id", "name", "credentialHash" FROM "Node"
          WHERE "credentialHash" = ANY(${[...hashes.keys()]}::text[]) AND "joinState" = 'joined'`;
        return new Map(rows.map((r) => [r.credentialHash, { id: r.id, name: r.name }]));
      },
      { maxWaitMs: 2, ...opts },
    );
  }

  find(credentialHash: string): Promise<NodeIdentity | undefined> {
    return this.batch.add(credentialHash, null);
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
