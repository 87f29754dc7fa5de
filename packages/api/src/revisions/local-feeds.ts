// The change feeds that serve subscribers reading through a given Prisma client. A revision this
// process commits wakes them at once (commit.ts): on the embedded database, which drops NOTIFY,
// the alternative is the one-second poll between a save and the agents hearing of it. Other API
// replicas still learn of it by NOTIFY (or their poll).

interface Announceable {
  announce(revision: number): void;
  announceInventory(generation: number): void;
}

const localFeeds = new WeakMap<object, Set<Announceable>>();
let enabled = true;

/** For the latency benchmark's baseline only (bench/latency): announcements off, as before. */
export function setLocalAnnouncements(on: boolean): void {
  enabled = on;
}

/** Says that subscribers on `feed` read the database through `db`. */
export function bindFeed<F extends Announceable>(db: object, feed: F): F {
  let set = localFeeds.get(db);
  if (!set) {
    set = new Set();
    localFeeds.set(db, set);
  }
  set.add(feed);
  return feed;
}

/** A revision committed through `db` by this process, announced to its own feeds. */
export function announceLocalRevision(db: object, revision: number): void {
  if (!enabled) return;
  for (const feed of localFeeds.get(db) ?? []) feed.announce(revision);
}

/** An inventory generation committed through `db` by this process, likewise. */
export function announceLocalInventory(db: object, generation: number): void {
  if (!enabled) return;
  for (const feed of localFeeds.get(db) ?? []) feed.announceInventory(generation);
}
