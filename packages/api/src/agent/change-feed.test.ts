// The LISTEN connection is the one piece of per-process state; losing it must not lose changes.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

  it("a rolled-back change is never announced", async () => {
    const feed = new ChangeFeed(h.tdb.url);
    await feed.start();
    const before = feed.latest;
    const op = await h.as("operator");
    await op.policies
      .create({
        namespace: "f",
        name: "bad",
        spec: { endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.1/8"] }] },
      })
      .catch(() => {});
    await op.srv6.vrfs
      .create({ name: "v", spec: { vrfID: 1, locatorPool: "missing", memberSelector: {} } })
      .catch(() => {});
    expect(await waitForRevision(feed, before, 500)).toBe(before);
    await feed.stop();
  });
});
