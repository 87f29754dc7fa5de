// The LISTEN connection is the one piece of per-process state; losing it must not lose changes.

import type { Db } from "@meridian/db";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitChange, currentRevision, type Tx } from "../revisions/commit";
import { createHarness, type Harness } from "../test/harness";
import { ChangeFeed, waitForRevision } from "./change-feed";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("ChangeFeed", () => {
  it("hears committed revisions, and after its connection is killed it reconnects and catches up", async () => {
    const feed = new ChangeFeed(h.tdb.url, 600_000); // NOTIFY and the reconnect catch-up only
    await feed.start();
    const op = await h.as("operator");
    const a = await op.policies.create({ namespace: "f", name: "a", spec: { endpointSelector: {} } });
    expect(await waitForRevision(feed, a.revision - 1, 5000)).toBeGreaterThanOrEqual(a.revision);

    // Kill the LISTEN backend, as a database failover or an idle-connection reaper would.
    const admin = new pg.Client({ connectionString: h.tdb.url });
    await admin.connect();
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'meridian-change-feed' AND datname = current_database()`,
    );
    await admin.end();
    expect(killed.rowCount).toBeGreaterThanOrEqual(1);

    // A change made while the feed is down is picked up by the catch-up read on reconnect.
    const b = await op.policies.create({ namespace: "f", name: "b", spec: { endpointSelector: {} } });
    expect(await waitForRevision(feed, a.revision, 10_000)).toBeGreaterThanOrEqual(b.revision);
    const c = await op.policies.create({ namespace: "f", name: "c", spec: { endpointSelector: {} } });
    expect(await waitForRevision(feed, b.revision, 10_000)).toBeGreaterThanOrEqual(c.revision);
    await feed.stop();
  });

  it("still hears a revision whose notification never arrives, by polling (as on the embedded database)", async () => {
    const feed = new ChangeFeed(h.tdb.url, 200);
    await feed.start();
    const before = feed.latest;
    const admin = new pg.Client({ connectionString: h.tdb.url });
    await admin.connect();
    // A revision committed without pg_notify, as when the database drops notifications.
    const r = await admin.query<{ number: number }>(
      `INSERT INTO "Revision" ("authorKind", "authorName", "message") VALUES ('system', 'test', 'silent') RETURNING "number"`,
    );
    await admin.end();
    const silent = r.rows[0]!.number;
    expect(silent).toBeGreaterThan(before);
    expect(await waitForRevision(feed, before, 5000)).toBeGreaterThanOrEqual(silent);
    await feed.stop();
  });

  // Issue 19, bug 7: this test used to make two calls that failed validation before any revision
  // or NOTIFY existed, so a pg_notify sent outside the transaction still passed. Here the change
  // gets as far as its revision, audit rows and NOTIFY, and then its transaction rolls back.
  it("a change whose transaction rolls back after its NOTIFY is never announced", async () => {
    const feed = new ChangeFeed(h.tdb.url, 600_000); // NOTIFY only: the poll must not mask it
    await feed.start();
    const heard: number[] = [];
    feed.subscribe((n) => heard.push(n));
    const actor = { kind: "system" as const, id: null, name: "test" };
    // The database fails the transaction at its end, as a failed COMMIT would.
    const failing = new Proxy(h.db, {
      get(target, key) {
        if (key === "$transaction")
          return (fn: (tx: Tx) => Promise<unknown>, opts: object) =>
            target.$transaction(async (tx) => {
              await fn(tx);
              throw new Error("rolled back at commit");
            }, opts);
        const v = Reflect.get(target, key, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as Db;
    await expect(
      commitChange(failing, actor, "doomed", async (_tx, rec) =>
        rec.record({
          entityType: "NetworkPolicy",
          entityId: "doomed",
          entityName: "f/doomed",
          action: "create",
          before: null,
          after: {},
        }),
      ),
    ).rejects.toThrow("rolled back at commit");
    // A barrier: a change committed after the doomed one is heard, so the doomed one's NOTIFY,
    // had it been sent, would have arrived before it.
    const op = await h.as("operator");
    const ok = await op.policies.create({ namespace: "f", name: "after", spec: { endpointSelector: {} } });
    expect(await waitForRevision(feed, ok.revision - 1, 5000)).toBe(ok.revision);
    expect(heard.at(-1)).toBe(ok.revision);
    // Every revision the feed announced exists: none is the rolled-back one.
    const rows = await h.db.revision.findMany({ where: { number: { in: heard } }, select: { number: true } });
    expect(rows.map((r) => r.number).sort((a, b) => a - b)).toEqual([...heard].sort((a, b) => a - b));
    await feed.stop();
  });

  it("a change refused by validation makes no revision", async () => {
    const before = await currentRevision(h.db);
    const op = await h.as("operator");
    await expect(
      op.policies.create({
        namespace: "f",
        name: "bad",
        spec: { endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.1/8"] }] },
      }),
    ).rejects.toThrow();
    await expect(
      op.srv6.vrfs.create({ name: "v", spec: { vrfID: 1, locatorPool: "missing", memberSelector: {} } }),
    ).rejects.toThrow();
    expect(await currentRevision(h.db)).toBe(before);
  });
});
