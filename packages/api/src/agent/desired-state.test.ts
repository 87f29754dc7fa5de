// The snapshot cache: one load per revision per API process, shared by every subscriber.

import type { Db } from "@meridian/db";
import { emptySnapshot } from "@meridian/model";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ChangeFeed } from "./change-feed";
import { latestSnapshot } from "./desired-state";
import { loadSnapshot } from "./snapshot";

vi.mock("./snapshot", () => ({ loadSnapshot: vi.fn() }));
const load = vi.mocked(loadSnapshot);

/** The database's current revision, as the mocked loadSnapshot reads it. */
let dbRevision = 0;
const feed = (latest: number) => ({ latest }) as ChangeFeed;
const newDb = () => ({}) as Db;

beforeEach(() => {
  load.mockReset();
  load.mockImplementation(async () => {
    const revision = dbRevision;
    await new Promise((r) => setTimeout(r, 10));
    return emptySnapshot(revision);
  });
});

describe("latestSnapshot", () => {
  it("loads once for many concurrent subscribers of one revision, and they share the result", async () => {
    const db = newDb();
    dbRevision = 7;
    const all = await Promise.all(Array.from({ length: 50 }, () => latestSnapshot(db, feed(7))));
    expect(load).toHaveBeenCalledTimes(1);
    expect(all.every((s) => s === all[0])).toBe(true);
    expect(all[0]!.revision).toBe(7);
  });

  it("serves the same revision from the cache, and loads again when the feed moves on", async () => {
    const db = newDb();
    dbRevision = 3;
    const first = await latestSnapshot(db, feed(3));
    expect(await latestSnapshot(db, feed(3))).toBe(first);
    expect(await latestSnapshot(db, feed(2))).toBe(first);
    expect(load).toHaveBeenCalledTimes(1);

    dbRevision = 4;
    const [a, b] = await Promise.all([latestSnapshot(db, feed(4)), latestSnapshot(db, feed(4))]);
    expect(a).toBe(b);
    expect(a.revision).toBe(4);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("loads again when an in-flight load turns out older than the revision wanted", async () => {
    const db = newDb();
    dbRevision = 5;
    const early = latestSnapshot(db, feed(5)); // starts a load that will read revision 5
    dbRevision = 6;
    const late = latestSnapshot(db, feed(6)); // joins it, sees 5 < 6, loads again
    expect((await early).revision).toBe(5);
    expect((await late).revision).toBe(6);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("keeps one cache per database client", async () => {
    dbRevision = 9;
    await latestSnapshot(newDb(), feed(9));
    await latestSnapshot(newDb(), feed(9));
    expect(load).toHaveBeenCalledTimes(2);
  });
});
