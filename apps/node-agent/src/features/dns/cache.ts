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
  names: Set<string>;
  expiresAt: number;
}

export interface CacheView {
  endpoint: string;
  address: string;
  identity: number;
  names: string[];
  expiresInSeconds: number;
  heldByConnection: boolean;
}

const key = (endpointId: string, address: string, identity: number) => `${endpointId}|${address}|${identity}`;

export interface CacheLimits {
  /** Learned (address, selector) entries one endpoint may hold; the oldest go first. */
  perEndpoint: number;
  /** Entries on the node; the oldest go first. */
  perNode: number;
  /** Names remembered per entry (for display: many names may share an address). */
  namesPerEntry: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = { perEndpoint: 5_000, perNode: 100_000, namesPerEntry: 32 };

export class LearnedAddresses {
  /** In insertion order: a Map iterates oldest first, which is the order eviction takes. */
  private readonly entries = new Map<string, LearnedEntry>();
  private readonly perEndpoint = new Map<string, number>();
  /** Entries evicted to stay within the limits. */
  evicted = 0;
  /** Entries past their TTL that an open connection keeps. */
  private readonly held = new Set<string>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits: CacheLimits = DEFAULT_CACHE_LIMITS,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds or extends; true when the set of claims may have changed (a new address or identity). */
  learn(e: Omit<LearnedEntry, "names"> & { names: string[] }): boolean {
    const k = key(e.endpointId, e.address, e.identity);
    const have = this.entries.get(k);
    if (have) {
      for (const n of e.names) if (have.names.size < this.limits.namesPerEntry) have.names.add(n);
      have.expiresAt = Math.max(have.expiresAt, e.expiresAt);
      this.held.delete(k);
      return false;
    }
    if ((this.perEndpoint.get(e.endpointId) ?? 0) >= this.limits.perEndpoint) this.evictOldest(e.endpointId);
    if (this.entries.size >= this.limits.perNode) this.evictOldest();
    this.entries.set(k, { ...e, names: new Set(e.names.slice(0, this.limits.namesPerEntry)) });
    this.perEndpoint.set(e.endpointId, (this.perEndpoint.get(e.endpointId) ?? 0) + 1);
    return true;
  }

  private evictOldest(endpointId?: string): void {
    for (const [k, e] of this.entries) {
      if (endpointId !== undefined && e.endpointId !== endpointId) continue;
      this.remove(k, e);
      this.evicted++;
      return;
    }
  }

  private remove(k: string, e: LearnedEntry): void {
    this.entries.delete(k);
    this.held.delete(k);
    const n = (this.perEndpoint.get(e.endpointId) ?? 1) - 1;
    if (n > 0) this.perEndpoint.set(e.endpointId, n);
    else this.perEndpoint.delete(e.endpointId);
  }

  /** Entries whose TTL has passed, for the caller to check against conntrack. */
  expired(): LearnedEntry[] {
    const t = this.now();
    return [...this.entries.values()].filter((e) => e.expiresAt <= t);
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
    return removed;
  }

  /** Forget an endpoint (it is gone, or its policy no longer has DNS rules). */
  dropEndpoint(endpointId: string): boolean {
    let removed = false;
    for (const [k, e] of this.entries) {
      if (e.endpointId !== endpointId) continue;
      this.remove(k, e);
      removed = true;
    }
    return removed;
  }

  /**
   * One claim per address. An address two selectors matched (two identities) gets the lowest
   * identity: the ipcache holds one identity per prefix (a known limit, see README).
   */
  claims(): IpcacheClaim[] {
    const best = new Map<string, number>();
    for (const e of this.entries.values()) {
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
    return [...this.entries.values()].map((e) => ({ ...e, names: [...e.names] }));
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
    for (const [k, e] of this.entries) {
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
      row.held ||= this.held.has(k);
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
    return [...this.entries]
      .map(([k, e]) => ({
        endpoint: e.endpointId,
        address: e.address,
        identity: e.identity,
        names: [...e.names].sort(),
        expiresInSeconds: Math.max(0, Math.round((e.expiresAt - t) / 100) / 10),
        heldByConnection: this.held.has(k),
      }))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.address.localeCompare(b.address));
  }
}
