// Addresses the DNS proxy learned, per endpoint, and the ipcache claims they make. An address
// learned from an endpoint's answer, under one of its toFQDNs selectors, stays for that answer's
// TTL (at least the configured minimum), and after that while a connection from the endpoint to
// it is still carrying packets. The kernel holds the union: one claim per address, under the
// DNS proxy's ownership of the ipcache (datapath/ipcache-owners.ts).
import type { IpcacheClaim } from "../../datapath/index.js";

export interface LearnedEntry {
  endpointId: string;
  /** The endpoint's own addresses: conntrack names flows by them. */
  endpointAddresses: string[];
  address: string;
  identity: number;
  /** At most `namesPerEntry`, without repeats (an array: a Set per entry costs several times more). */
  names: string[];
  expiresAt: number;
}

export interface CacheView {
  endpoint: string;
  address: string;
  identity: number;
  names: string[];
  expiresInSeconds: number;
  heldByConnection: boolean;
  /** Evicted by a limit and kept only because a connection uses it. */
  overLimit?: true;
}

const key = (endpointId: string, address: string, identity: number) => `${endpointId}|${address}|${identity}`;

export interface CacheLimits {
  /**
   * Entries the answers for one name may hold for one endpoint; the oldest go first. An entry
   * belongs to the name whose answer carried it last (the question, not a CNAME target).
   */
  perName: number;
  /** Learned (address, selector) entries one endpoint may hold; the oldest go first. */
  perEndpoint: number;
  /** Entries on the node; the oldest go first. */
  perNode: number;
  /** Names remembered per entry (for display: many names may share an address). */
  namesPerEntry: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = {
  perName: 1_000,
  perEndpoint: 5_000,
  perNode: 100_000,
  namesPerEntry: 32,
};

export const EVICTION_LIMITS = ["per-name", "per-endpoint", "per-node"] as const;
export type EvictionLimit = (typeof EVICTION_LIMITS)[number];

interface Entry extends LearnedEntry {
  /** The name whose answer carried it last: its place in that name's order. */
  owner: string;
}

/**
 * Keys in groups, each group in insertion order. A group of one is held as the key itself: most
 * names own one address, and a Set per name would double the cache's memory.
 */
class GroupIndex {
  private readonly groups = new Map<string, string | Set<string>>();

  size(group: string): number {
    const g = this.groups.get(group);
    return g === undefined ? 0 : typeof g === "string" ? 1 : g.size;
  }

  oldest(group: string): string | undefined {
    const g = this.groups.get(group);
    return typeof g === "string" ? g : g?.values().next().value;
  }

  members(group: string): string[] {
    const g = this.groups.get(group);
    return g === undefined ? [] : typeof g === "string" ? [g] : [...g];
  }

  /** Adds `k` as the group's newest (callers delete it first to move it). */
  add(group: string, k: string): void {
    const g = this.groups.get(group);
    if (g === undefined) this.groups.set(group, k);
    else if (typeof g === "string") {
      if (g !== k) this.groups.set(group, new Set([g, k]));
    } else g.add(k);
  }

  delete(group: string, k: string): void {
    const g = this.groups.get(group);
    if (g === k) this.groups.delete(group);
    else if (typeof g === "object") {
      g.delete(k);
      if (g.size === 1) this.groups.set(group, g.values().next().value!);
    }
  }

  dropGroup(group: string): void {
    this.groups.delete(group);
  }

  names(): string[] {
    return [...this.groups.keys()];
  }
}

export class LearnedAddresses {
  /** Least recently answered first (a Map iterates in insertion order), the order eviction takes. */
  private readonly entries = new Map<string, Entry>();
  /** Each endpoint's entry keys, least recently answered first. */
  private readonly byEndpoint = new GroupIndex();
  /** Each (endpoint, name)'s entry keys, the least recently answered first. */
  private readonly byName = new GroupIndex();
  /** Entries evicted to stay within each limit. */
  readonly evicted: Record<EvictionLimit, number> = { "per-name": 0, "per-endpoint": 0, "per-node": 0 };
  /** Entries past their TTL that an open connection keeps. */
  private readonly held = new Set<string>();
  /**
   * Entries a limit evicted, out of the limits' counts but still claimed until the next connection
   * check (`expire`): an idle one goes then, one an open connection uses stays (held) until it is
   * idle — as expiry treats a TTL that passed. Oldest first, at most `maxDeferred`: past that the
   * oldest go at once, used or not, so the node holds at most perNode + perNode / 10 entries.
   */
  private readonly deferred = new Map<string, Entry & { held: boolean }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits: CacheLimits = DEFAULT_CACHE_LIMITS,
  ) {}

  /** Entries within the limits. */
  get size(): number {
    return this.entries.size;
  }

  /** Entries evicted by a limit still claimed: awaiting the connection check, or held by a connection. */
  get deferredSize(): number {
    return this.deferred.size;
  }

  private get maxDeferred(): number {
    return Math.max(1, Math.floor(this.limits.perNode / 10));
  }

  /**
   * Adds or extends an entry learned from an answer to `names[0]` (the question; the rest are the
   * CNAME chain). True when the set of claims may have changed: a new entry, or one evicted.
   */
  learn(e: LearnedEntry): boolean {
    const k = key(e.endpointId, e.address, e.identity);
    const owner = `${e.endpointId}|${e.names[0] ?? ""}`;
    // Evicted, then answered again: back within the limits as a new entry.
    this.deferred.delete(k);
    const have = this.entries.get(k);
    if (have) {
      for (const n of e.names)
        if (have.names.length < this.limits.namesPerEntry && !have.names.includes(n)) have.names.push(n);
      have.expiresAt = Math.max(have.expiresAt, e.expiresAt);
      this.held.delete(k);
      // The latest answer carrying it owns it, and it becomes the newest of that name, of its
      // endpoint and of the node: the least recently answered go first.
      this.entries.delete(k);
      this.entries.set(k, have);
      this.byEndpoint.delete(e.endpointId, k);
      this.byEndpoint.add(e.endpointId, k);
      this.byName.delete(have.owner, k);
      have.owner = owner;
      const evicted = this.makeRoom(this.byName, owner, this.limits.perName, "per-name");
      this.byName.add(owner, k);
      return evicted;
    }
    this.makeRoom(this.byName, owner, this.limits.perName, "per-name");
    this.makeRoom(this.byEndpoint, e.endpointId, this.limits.perEndpoint, "per-endpoint");
    while (this.entries.size >= this.limits.perNode) {
      const [oldest, entry] = this.entries.entries().next().value!;
      this.evict(oldest, entry, "per-node");
    }
    this.entries.set(k, { ...e, owner, names: [...new Set(e.names)].slice(0, this.limits.namesPerEntry) });
    this.byEndpoint.add(e.endpointId, k);
    this.byName.add(owner, k);
    return true;
  }

  /**
   * One answer's addresses for an endpoint, under each of the selectors' identities. Only the last
   * `perName` entries can stay (the answer's own entries would evict its first ones), so only those are
   * learned and the rest counted as evicted by the name's limit: a hostile answer with thousands
   * of records costs the proxy no more than the limit. True when the claims may have changed.
   */
  learnAnswer(a: {
    endpointId: string;
    endpointAddresses: string[];
    identities: number[];
    names: string[];
    addresses: { address: string; expiresAt: number }[];
  }): boolean {
    const fit = Math.max(1, Math.floor(this.limits.perName / Math.max(1, a.identities.length)));
    const keep = a.addresses.slice(-fit);
    this.evicted["per-name"] += (a.addresses.length - keep.length) * a.identities.length;
    let changed = false;
    for (const { address, expiresAt } of keep)
      for (const identity of a.identities)
        changed =
          this.learn({
            endpointId: a.endpointId,
            endpointAddresses: a.endpointAddresses,
            address,
            identity,
            names: a.names,
            expiresAt,
          }) || changed;
    return changed;
  }

  /** Evicts the group's oldest entries until one more fits under `limit`; true if it evicted any. */
  private makeRoom(index: GroupIndex, group: string, limit: number, why: EvictionLimit): boolean {
    let evicted = false;
    while (index.size(group) >= limit) {
      const k = index.oldest(group)!;
      const e = this.entries.get(k);
      if (e) this.evict(k, e, why);
      else {
        index.delete(group, k);
        this.evicted[why]++;
      }
      evicted = true;
    }
    return evicted;
  }

  /** Out of the limits; withdrawn at the next connection check unless a connection uses it. */
  private evict(k: string, e: Entry, why: EvictionLimit): void {
    this.remove(k, e);
    this.evicted[why]++;
    this.deferred.set(k, { ...e, held: false });
    for (const oldest of this.deferred.keys()) {
      if (this.deferred.size <= this.maxDeferred) break;
      this.deferred.delete(oldest);
    }
  }

  private remove(k: string, e: Entry): void {
    this.entries.delete(k);
    this.held.delete(k);
    this.byEndpoint.delete(e.endpointId, k);
    this.byName.delete(e.owner, k);
  }

  /** Entries whose TTL has passed, and those a limit evicted, for the caller to check against conntrack. */
  expired(): LearnedEntry[] {
    const t = this.now();
    return [...[...this.entries.values()].filter((e) => e.expiresAt <= t), ...this.deferred.values()];
  }

  /** Drop expired entries except those `keep` names (`from>to` address pairs with open flows). */
  expire(keep: Set<string>): number {
    const t = this.now();
    let removed = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAt > t) continue;
      if (e.endpointAddresses.some((a) => keep.has(`${a}>${e.address}`))) {
        this.held.add(k);
        continue;
      }
      this.remove(k, e);
      removed++;
    }
    for (const [k, e] of this.deferred) {
      if (e.endpointAddresses.some((a) => keep.has(`${a}>${e.address}`))) e.held = true;
      else {
        this.deferred.delete(k);
        removed++;
      }
    }
    return removed;
  }

  /** The endpoints that hold entries. */
  endpoints(): string[] {
    return this.byEndpoint.names();
  }

  /** Forget an endpoint (it is gone, or its policy no longer has DNS rules). */
  dropEndpoint(endpointId: string): boolean {
    const keys = this.byEndpoint.members(endpointId);
    for (const k of keys) {
      const e = this.entries.get(k);
      if (e) this.remove(k, e);
    }
    this.byEndpoint.dropGroup(endpointId);
    let dropped = keys.length > 0;
    for (const [k, e] of this.deferred)
      if (e.endpointId === endpointId) {
        this.deferred.delete(k);
        dropped = true;
      }
    return dropped;
  }

  /**
   * One claim per address. An address two selectors matched (two identities) gets the lowest
   * identity: the ipcache holds one identity per prefix (a known limit, see README).
   */
  claims(): IpcacheClaim[] {
    const best = new Map<string, number>();
    for (const e of [...this.entries.values(), ...this.deferred.values()]) {
      const have = best.get(e.address);
      if (have === undefined || e.identity < have) best.set(e.address, e.identity);
    }
    return [...best]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([prefix, identity]) => ({ prefix, identity }));
  }

  /** What survives an agent restart (stateDir/dns-learned.json). */
  toJSON(): {
    endpointId: string;
    endpointAddresses: string[];
    address: string;
    identity: number;
    names: string[];
    expiresAt: number;
  }[] {
    // Evicted entries first: restored, the limits evict them again before the ones within.
    return [...this.deferred.values(), ...this.entries.values()].map((e) => {
      // The owning name first: restored, the entry goes back under it (learn reads names[0]).
      const first = e.owner.slice(e.endpointId.length + 1);
      return {
        endpointId: e.endpointId,
        endpointAddresses: e.endpointAddresses,
        address: e.address,
        identity: e.identity,
        names: [first, ...e.names.filter((n) => n !== first)],
        expiresAt: e.expiresAt,
      };
    });
  }

  /** Evicted entries a connection was found using (the others are not shown: they go at the next check). */
  private heldOverLimit(): [string, Entry][] {
    return [...this.deferred].filter(([, e]) => e.held);
  }

  restore(saved: ReturnType<LearnedAddresses["toJSON"]>): void {
    for (const e of saved) this.learn(e);
  }

  /**
   * For the control plane's status report: one row per endpoint and address (the selectors'
   * identities merged), newest expiry first, at most `limit`, with absolute expiry times.
   */
  reported(limit: number): {
    endpoint: string;
    address: string;
    names: string[];
    expiresAt: string;
    heldByConnection: boolean;
  }[] {
    const rows = new Map<
      string,
      { endpoint: string; address: string; names: Set<string>; expiresAt: number; held: boolean }
    >();
    for (const [k, e] of [...this.entries, ...this.heldOverLimit()]) {
      const id = `${e.endpointId}|${e.address}`;
      const row = rows.get(id) ?? {
        endpoint: e.endpointId,
        address: e.address,
        names: new Set(),
        expiresAt: 0,
        held: false,
      };
      for (const n of e.names) row.names.add(n);
      row.expiresAt = Math.max(row.expiresAt, e.expiresAt);
      row.held ||= this.held.has(k) || this.deferred.get(k)?.held === true;
      rows.set(id, row);
    }
    return [...rows.values()]
      .sort(
        (a, b) =>
          b.expiresAt - a.expiresAt ||
          a.endpoint.localeCompare(b.endpoint) ||
          a.address.localeCompare(b.address),
      )
      .slice(0, limit)
      .map((r) => ({
        endpoint: r.endpoint,
        address: r.address,
        names: [...r.names].sort().slice(0, 32),
        expiresAt: new Date(r.expiresAt).toISOString(),
        heldByConnection: r.held,
      }));
  }

  view(): CacheView[] {
    const t = this.now();
    return [
      ...[...this.entries].map(([k, e]) => ({ k, e, overLimit: false })),
      ...this.heldOverLimit().map(([k, e]) => ({ k, e, overLimit: true })),
    ]
      .map(({ k, e, overLimit }) => ({
        endpoint: e.endpointId,
        address: e.address,
        identity: e.identity,
        names: [...e.names].sort(),
        expiresInSeconds: Math.max(0, Math.round((e.expiresAt - t) / 100) / 10),
        heldByConnection: overLimit || this.held.has(k),
        ...(overLimit ? { overLimit: true as const } : {}),
      }))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.address.localeCompare(b.address));
  }
}
