// Two API "replicas" over one test database, as a deployment runs them: separate connection
// pools and change feeds, one PostgreSQL. Replica B hears of changes by NOTIFY only (no poll), so
// a test through it proves the NOTIFY path.
import { createPrismaClient } from "@meridian/db";
import { ChangeFeed } from "../agent/change-feed";
import { type RunningServer, startServer } from "../server";
import type { Harness } from "./harness";

export interface Replicas {
  a: RunningServer;
  b: RunningServer;
  close(): Promise<void>;
}

export async function startReplicas(h: Harness): Promise<Replicas> {
  const a = await startServer({ db: h.db, changeFeed: h.feed });
  const dbB = createPrismaClient(h.tdb.url, { max: 3 });
  const feedB = new ChangeFeed(h.tdb.url, 600_000);
  const b = await startServer({ db: dbB, changeFeed: feedB });
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await feedB.stop();
      await dbB.$disconnect();
    },
  };
}
