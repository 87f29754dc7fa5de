// The ipcache (prefix → identity) has several writers: the control plane's desired state today,
// the DNS proxy (addresses learned from answers to FQDN-selected names) and Kubernetes (pods the
// agent sees before the control plane compiled them) next. Each owner holds claims on prefixes;
// an owner's sync replaces only its own claims, and the kernel map holds the union — the way
// Cilium keeps per-source metadata on each prefix (pkg/ipcache, UpsertMetadata(prefix, source,
// resource)).
//
// When owners claim the same prefix with different identities, the owner listed first in
// IPCACHE_OWNERS wins:
// - the control plane: its identities are allocated centrally from intent (endpoint identities,
//   CIDR identities named by policy, reserved ones), so every node agrees on them;
// - Kubernetes: what this node saw of a pod before the control plane named it; it fills gaps;
// - the DNS proxy: an answer from a DNS server is the least trusted statement about an address,
//   so a DNS-learned FQDN identity never replaces an endpoint's or a CIDR's identity for the same
//   prefix (it comes back into force if the control plane drops its claim).
// Precedence is per prefix. Different prefixes never conflict: the lookup is longest-prefix match,
// so a /32 an owner claims inside another owner's /24 decides for that one address.
import { formatAddr, parseCidr } from "./layout";

/** Who may claim ipcache entries, highest precedence first. */
export const IPCACHE_OWNERS = ["control-plane", "kubernetes", "dns-proxy"] as const;
export type IpcacheOwner = (typeof IPCACHE_OWNERS)[number];

export interface IpcacheClaim {
  /** A CIDR, or an address (a host prefix). */
  prefix: string;
  identity: number;
}

/** One prefix whose identity in force changes (undefined: nobody claims it). */
export interface IpcacheChange {
  prefix: string;
  before: number | undefined;
  after: number | undefined;
}

/** The canonical text of a prefix: host bits zeroed, an address becomes /32 or /128. */
export function canonicalPrefix(prefix: string): string {
  const c = parseCidr(prefix);
  return `${formatAddr(c.family, c.bytes)}/${c.prefix}`;
}

/** Every owner's claims; immutable, so a failed sync simply keeps the previous value. */
export class IpcacheClaims {
  private constructor(private readonly byOwner: ReadonlyMap<IpcacheOwner, ReadonlyMap<string, number>>) {}

  static readonly none = new IpcacheClaims(new Map());

  /**
   * The claims after `owner` claims exactly `claims` (its previous ones are dropped; nobody
   * else's change). Within one owner a later claim of the same prefix wins. Throws on a prefix
   * that does not parse, naming it.
   */
  withClaims(owner: IpcacheOwner, claims: Iterable<IpcacheClaim>): IpcacheClaims {
    const mine = new Map<string, number>();
    for (const c of claims) {
      let key: string;
      try {
        key = canonicalPrefix(c.prefix);
      } catch (err) {
        throw new Error(`ipcache entry ${JSON.stringify(c.prefix)}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      mine.set(key, c.identity);
    }
    const next = new Map(this.byOwner);
    if (mine.size === 0) next.delete(owner);
    else next.set(owner, mine);
    return new IpcacheClaims(next);
  }

  /** The identity in force at `prefix` (the highest-precedence owner's claim), if anyone claims it. */
  identityAt(prefix: string): number | undefined {
    for (const owner of IPCACHE_OWNERS) {
      const identity = this.byOwner.get(owner)?.get(prefix);
      if (identity !== undefined) return identity;
    }
    return undefined;
  }

  /**
   * The prefixes whose identity in force differs between these claims and `next`, where only
   * `owner`'s claims changed: what an incremental write of the kernel map must touch (`after`
   * undefined: delete). Reads only the owner's old and new claims, not the whole union.
   */
  changesTo(next: IpcacheClaims, owner: IpcacheOwner): IpcacheChange[] {
    const before = this.claimsOf(owner);
    const after = next.claimsOf(owner);
    const touched: string[] = [];
    for (const [prefix, identity] of after) if (before.get(prefix) !== identity) touched.push(prefix);
    for (const prefix of before.keys()) if (!after.has(prefix)) touched.push(prefix);
    const out: IpcacheChange[] = [];
    for (const prefix of touched) {
      const was = this.identityAt(prefix);
      const now = next.identityAt(prefix);
      if (was !== now) out.push({ prefix, before: was, after: now });
    }
    return out;
  }

  claimsOf(owner: IpcacheOwner): ReadonlyMap<string, number> {
    return this.byOwner.get(owner) ?? new Map();
  }

  /** Every claimed prefix with the identity in force there and the owner it comes from. */
  union(): Map<string, { identity: number; owner: IpcacheOwner }> {
    const out = new Map<string, { identity: number; owner: IpcacheOwner }>();
    // Lowest precedence first, so a higher owner's claim overwrites.
    for (const owner of [...IPCACHE_OWNERS].reverse()) {
      for (const [prefix, identity] of this.byOwner.get(owner) ?? []) out.set(prefix, { identity, owner });
    }
    return out;
  }
}
