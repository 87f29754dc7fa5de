// One LISTEN connection per API process: PostgreSQL tells every replica about each committed
// revision, and the replica wakes its own subscribers. A dropped connection is re-opened and
// followed by a catch-up read, so a NOTIFY lost in the gap cannot strand a subscriber.
import pg from "pg";
import { CHANGES_CHANNEL } from "../revisions/commit";
import { bindFeed } from "../revisions/local-feeds";

/** Agents' status reports are not revisions; they wake `status.live` subscribers on their own channel. */
export const STATUS_CHANNEL = "meridian_status";
/** Inventory changes (agents' endpoint reports): the payload is the new inventory generation. */
export const INVENTORY_CHANNEL = "meridian_inventory";

type Listener = (revision: number) => void;
type StatusListener = (nodeName: string) => void;

export class ChangeFeed {
  private client: pg.Client | null = null;
  private listeners = new Set<Listener>();
  private statusListeners = new Set<StatusListener>();
  private stopped = false;
  private starting: Promise<void> | null = null;
  private poller: NodeJS.Timeout | null = null;
  private lastStatusAt = "";
  /** Highest revision this process has heard of. */
  latest = 0;
  /** Highest inventory generation this process has heard of. */
  latestInventory = 0;

  /**
   * `pollMs`: also read the newest revision and status time this often. NOTIFY is the fast
   * path; the poll is the safety net for databases that do not deliver notifications across
   * connections (the embedded PGlite server multiplexes every client over one session and
   * drops them) and for notifications lost while the LISTEN connection was away.
   */
  constructor(
    private readonly connectionString: string,
    private readonly pollMs = 1000,
  ) {}

  start(): Promise<void> {
    this.starting ??= this.connect();
    this.poller ??= setInterval(() => void this.poll(), this.pollMs);
    this.poller.unref();
    return this.starting;
  }

  private polling = false;
  private async poll(): Promise<void> {
    const client = this.client;
    if (!client || this.polling || this.stopped) return;
    this.polling = true;
    try {
      const r = await client.query<{ n: number | null; s: Date | null; g: number | null }>(
        // Status and looking-glass reports both wake status subscribers (the console refreshes).
        `SELECT (SELECT max("number") FROM "Revision") AS n,
           (SELECT "value" FROM "InventoryGeneration" WHERE "id" = 1) AS g,
           GREATEST((SELECT max("updatedAt") FROM "NodeComponentStatus"),
                    (SELECT max("reportedAt") FROM "BgpRouteSnapshot")) AS s`,
      );
      const row = r.rows[0];
      this.publish(row?.n ?? 0);
      this.publishInventory(row?.g ?? 0);
      const statusAt = row?.s ? new Date(row.s).toISOString() : "";
      if (statusAt && statusAt !== this.lastStatusAt) {
        const first = this.lastStatusAt === "";
        this.lastStatusAt = statusAt;
        if (!first) for (const l of this.statusListeners) l("");
      }
    } catch {
      // The connection's own error handler reconnects; the next tick tries again.
    } finally {
      this.polling = false;
    }
  }

  private async connect(): Promise<void> {
    // Named, so operators (and tests) can find the LISTEN connection in pg_stat_activity.
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: "meridian-change-feed",
    });
    client.on("notification", (msg) => {
      if (msg.channel === CHANGES_CHANNEL && msg.payload) this.publish(Number(msg.payload));
      if (msg.channel === INVENTORY_CHANNEL && msg.payload) this.publishInventory(Number(msg.payload));
      if (msg.channel === STATUS_CHANNEL) for (const l of this.statusListeners) l(msg.payload ?? "");
    });
    client.on("error", () => this.reconnect(client));
    client.on("end", () => this.reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    await client.query(`LISTEN ${STATUS_CHANNEL}`);
    await client.query(`LISTEN ${INVENTORY_CHANNEL}`);
    this.client = client;
    const r = await client.query<{ n: number | null; g: number | null }>(
      `SELECT (SELECT max("number") FROM "Revision") AS n,
              (SELECT "value" FROM "InventoryGeneration" WHERE "id" = 1) AS g`,
    );
    this.publish(r.rows[0]?.n ?? 0);
    this.publishInventory(r.rows[0]?.g ?? 0);
  }

  private reconnect(dead: pg.Client) {
    if (this.stopped || this.client !== dead) return;
    this.client = null;
    dead.removeAllListeners();
    // A dead client can still emit a late "error" (e.g. after "end"); without a listener
    // that would be an uncaught exception in the API process.
    dead.on("error", () => {});
    const retry = async (delay: number) => {
      if (this.stopped) return;
      try {
        await this.connect();
      } catch {
        setTimeout(() => void retry(Math.min(delay * 2, 5000)), delay).unref();
      }
    };
    setTimeout(() => void retry(200), 100).unref();
  }

  /** Called for a revision committed by this very process: no need to wait for NOTIFY or the poll. */
  announce(revision: number) {
    this.publish(revision);
  }

  /** Likewise for an inventory generation. */
  announceInventory(generation: number) {
    this.publishInventory(generation);
  }

  private publishInventory(generation: number) {
    if (!Number.isFinite(generation) || generation <= this.latestInventory) return;
    this.latestInventory = generation;
    // Subscribers wake on any change and compare what they hold with what there is.
    for (const l of this.listeners) l(this.latest);
  }

  private publish(revision: number) {
    if (!Number.isFinite(revision) || revision <= this.latest) return;
    this.latest = revision;
    for (const l of this.listeners) l(revision);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribeStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.listeners.clear();
    this.statusListeners.clear();
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners();
      c.on("error", () => {});
      await c.end().catch(() => {});
    }
  }
}

const feeds = new Map<string, ChangeFeed>();

/** The process-wide feed for a database, started on first use. */
export function changeFeedFor(connectionString: string): ChangeFeed {
  let feed = feeds.get(connectionString);
  if (!feed) {
    feed = new ChangeFeed(connectionString);
    feeds.set(connectionString, feed);
    void feed.start().catch(() => {});
  }
  return feed;
}

/**
 * Resolves on the next revision after `after`, or after `timeoutMs` (so a subscriber can
 * re-check the database now and then, even if a notification were ever lost).
 */
export function waitForRevision(
  feed: ChangeFeed,
  after: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number> {
  if (feed.latest > after) return Promise.resolve(feed.latest);
  return new Promise((resolve) => {
    const done = (n: number) => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      resolve(n);
    };
    const onAbort = () => done(feed.latest);
    const unsubscribe = feed.subscribe((n) => n > after && done(n));
    const timer = setTimeout(() => done(feed.latest), timeoutMs);
    signal?.addEventListener("abort", onAbort);
  });
}

/** What a subscriber has seen: a revision and an inventory generation. */
export interface Seen {
  revision: number;
  inventory: number;
}

/**
 * Resolves with true on the next revision or inventory generation after `seen`, or with false
 * after `timeoutMs` or on abort (so a subscriber re-checks the database now and then).
 */
export function waitForChange(
  feed: ChangeFeed,
  seen: Seen,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const changed = () => feed.latest > seen.revision || feed.latestInventory > seen.inventory;
  if (changed()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (v: boolean) => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      resolve(v);
    };
    const onAbort = () => done(false);
    const unsubscribe = feed.subscribe(() => changed() && done(true));
    const timer = setTimeout(() => done(changed()), timeoutMs);
    signal?.addEventListener("abort", onAbort);
  });
}

/** The context's feed, or the process-wide one for DATABASE_URL (how a Next.js app runs). */
export function feedFor(ctx: { changeFeed?: ChangeFeed; db?: object }): ChangeFeed | null {
  if (ctx.changeFeed) return ctx.db ? bindFeed(ctx.db, ctx.changeFeed) : ctx.changeFeed;
  const url = process.env.DATABASE_URL;
  if (!url) return null;
  const feed = changeFeedFor(url);
  return ctx.db ? bindFeed(ctx.db, feed) : feed;
}
