// Received BGP unicast routes into the kernel. For peers with installRoutes, the Loc-RIB best path of
// each IPv4/IPv6 unicast prefix goes into the main table as `proto bgp` (186) at our own metric, via
// the path's next hop. Our routes are exactly those with that protocol *and* that metric, so we never
// replace or delete anything else: a route the node already has for the same prefix (connected, the
// control plane's node routes, an operator's static route, DHCP defaults) has a lower metric, keeps
// winning, and ours only takes over if it goes. Writes are batched through one `ip -force -batch`
// per flush, so a full table goes in at kernel speed rather than one process per route.
import { isIP } from "node:net";
import {
  type BestPath,
  type BestPathChange,
  type BgpSpeaker,
  canonicalPrefix,
  type Family,
} from "@meridian/bgp";
import { type IpRoute, ipBatchEach, ipJson, type RunOptions } from "../../routing/exec.js";

/** "bgp" in /etc/iproute2/rt_protos. */
export const BGP_ROUTE_PROTO = 186;
/**
 * Above the kernel's defaults (0 for IPv4, 1024 for IPv6) and the usual DHCP/RA defaults, so an
 * exact prefix the node already routes by any other means keeps its route.
 */
export const BGP_ROUTE_METRIC = 2000;

const UNICAST: Family[] = ["ipv4-unicast", "ipv6-unicast"];

/** What the installer needs of the speaker (a fake one in the write-speed test). */
export type RouteSource = Pick<BgpSpeaker, "on" | "off" | "bestPath" | "receivedRoutes" | "peerStatus"> & {
  /** After our own restart the speaker defers selection (RFC 4724 §4.1): no sweep before it is done. */
  restartStatus?: () => { deferring: boolean } | undefined;
};

export interface KernelRoutesOptions {
  /** Another network namespace (tests); the agent writes its own. */
  run?: RunOptions;
  /** Routes per `ip -batch` process. */
  batchSize?: number;
  /**
   * Routes left by a previous agent (graceful stop) are kept until every installing peer has sent
   * End-of-RIB, and at most this long; then those no peer re-announced are deleted.
   */
  adoptTimeoutMs?: number;
  /** Failed routes (e.g. next hop not on-link yet) are retried this often. */
  retryMs?: number;
}

export interface InstallingPeer {
  address: string;
}

/** One kernel route of ours: the next hop and the peer whose best path it is (undefined: adopted). */
interface Hop {
  readonly via: string;
  /** Only for link-local next hops: the interface towards the peer. */
  readonly dev?: string;
  readonly peer?: string;
}

interface Failure {
  peer: string;
  reason: string;
  hop?: Hop;
}

export class KernelRouteInstaller {
  private source?: RouteSource;
  private readonly installing = new Set<string>();
  private readonly excluded = new Set<string>();
  /** What we hold in the kernel, by canonical prefix. */
  private readonly installed = new Map<string, Hop>();
  private readonly counts = new Map<string | undefined, number>();
  /** Writes not made yet: the latest wish per prefix (null: delete). */
  private want = new Map<string, Hop | null>();
  private readonly failed = new Map<string, Failure>();
  private readonly hops = new Map<string, Hop>();
  private readonly devs = new Map<string, string | null>();
  private readonly endOfRib = new Set<string>();
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  private adoptTimer?: NodeJS.Timeout;
  private adoptTimedOut = false;
  private retryTimer?: NodeJS.Timeout;
  private started?: Promise<void>;
  private problem?: string;
  private readonly batchSize: number;
  /** Bumped by readopt(): a write in flight then lands as adopted, not as the old speaker's. */
  private generation = 0;

  private readonly onBest = (changes: BestPathChange[]) => {
    for (const c of changes) {
      if (c.family === "ipv4-unicast" || c.family === "ipv6-unicast") this.consider(c.prefix, c.best);
    }
  };
  private readonly onEndOfRib = (address: string, family: Family) => {
    this.endOfRib.add(`${address}|${family}`);
    // After the best-path batch of the same read has landed (it is a microtask; this runs later).
    setImmediate(() => this.maybeSweep());
  };
  private readonly onDeferralDone = () => setImmediate(() => this.maybeSweep());

  constructor(private readonly opts: KernelRoutesOptions = {}) {
    this.batchSize = opts.batchSize ?? 10_000;
  }

  /** Adopts our routes a previous agent left (once; later calls wait for the first). */
  start(): Promise<void> {
    this.started ??= this.adopt();
    return this.started;
  }

  private async adopt(): Promise<void> {
    try {
      for (const fam of ["-4", "-6"]) {
        const routes = await ipJson<IpRoute & { metric?: number; via?: { host: string } }>(
          [fam, "route", "show", "table", "main", "proto", String(BGP_ROUTE_PROTO)],
          this.opts.run,
        );
        for (const r of routes) {
          if (r.metric !== BGP_ROUTE_METRIC) continue; // another daemon's BGP route
          const via = r.gateway ?? r.via?.host;
          if (!via) continue;
          const prefix = normaliseDst(r.dst, fam);
          this.setInstalled(prefix, this.hop(via, isLinkLocal(via) ? r.dev : undefined, undefined));
        }
      }
    } catch (err) {
      this.problem = `reading leftover BGP routes failed: ${(err as Error).message}`;
    }
    if (this.adopted > 0) {
      this.armAdoptTimer();
    }
  }

  /** Follows a speaker's best paths. */
  attach(source: RouteSource): void {
    if (this.source === source) return;
    this.detach();
    this.source = source;
    source.on("best-path", this.onBest);
    source.on("end-of-rib", this.onEndOfRib);
    source.on("selection-deferral-done", this.onDeferralDone);
    for (const peer of this.installing) this.pull(peer);
  }

  /** Stops following the speaker; what is in the kernel stays (graceful stop). */
  detach(): void {
    this.source?.off("best-path", this.onBest);
    this.source?.off("end-of-rib", this.onEndOfRib);
    this.source?.off("selection-deferral-done", this.onDeferralDone);
    this.source = undefined;
  }

  /**
   * The speaker is being replaced (our ASN or router ID changed): what we installed stays as if
   * adopted, so forwarding continues until the new sessions re-announce it or the adopt timeout.
   */
  readopt(): void {
    this.detach();
    this.generation++;
    this.endOfRib.clear();
    for (const [prefix, hop] of [...this.installed]) {
      if (hop.peer !== undefined) this.setInstalled(prefix, this.hop(hop.via, hop.dev, undefined));
    }
    this.want = new Map();
    clearTimeout(this.adoptTimer);
    if (this.adopted > 0) {
      this.armAdoptTimer();
    }
  }

  /** The peers whose best paths go into the kernel; a peer leaving the set takes its routes along. */
  setPeers(peers: InstallingPeer[]): void {
    const next = new Set(peers.map((p) => p.address));
    for (const gone of [...this.installing].filter((a) => !next.has(a))) {
      this.installing.delete(gone);
      for (const [prefix, hop] of this.installed) if (hop.peer === gone) this.queue(prefix, null);
      for (const [prefix, w] of this.want) if (w?.peer === gone) this.want.set(prefix, null);
      for (const [prefix, f] of this.failed) if (f.peer === gone) this.failed.delete(prefix);
    }
    for (const added of [...next].filter((a) => !this.installing.has(a))) {
      this.installing.add(added);
      this.pull(added);
    }
    setImmediate(() => this.maybeSweep());
  }

  /** Prefixes this node originates (PodCIDRs, VIPs): never routed towards a peer. */
  setExcluded(prefixes: Iterable<string>): void {
    const next = new Set([...prefixes].map((p) => canonicalPrefix(p)));
    const changed = [...next].filter((p) => !this.excluded.has(p));
    const freed = [...this.excluded].filter((p) => !next.has(p));
    this.excluded.clear();
    for (const p of next) this.excluded.add(p);
    for (const p of changed) this.consider(p, undefined);
    for (const p of freed) {
      const family: Family = p.includes(":") ? "ipv6-unicast" : "ipv4-unicast";
      this.consider(p, this.source?.bestPath(family, p));
    }
  }

  /** Deletes everything we installed (and adopted); resolves when the kernel has it. */
  async clear(): Promise<void> {
    this.detach();
    clearTimeout(this.adoptTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.installing.clear();
    this.failed.clear();
    this.want = new Map();
    // A second pass catches what a write already in flight added.
    for (let pass = 0; pass < 3 && this.installed.size > 0; pass++) {
      for (const prefix of this.installed.keys()) this.queue(prefix, null);
      await this.idle();
    }
  }

  /** Resolves when every queued write has reached the kernel. */
  idle(): Promise<void> {
    if (!this.flushing && this.want.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- what status and the looking glass read ----

  installedFor(peer: string): number {
    return this.counts.get(peer) ?? 0;
  }

  get adopted(): number {
    return this.counts.get(undefined) ?? 0;
  }

  isInstalled(prefix: string, peer: string): boolean {
    return this.installed.get(prefix)?.peer === peer;
  }

  /** Per peer: routes the kernel refused (or we cannot express), in words. */
  problemsFor(peer: string): string[] {
    let n = 0;
    let first: string | undefined;
    for (const f of this.failed.values()) {
      if (f.peer !== peer) continue;
      n++;
      first ??= f.reason;
    }
    return n ? [`${n} route${n === 1 ? "" : "s"} not installed in the kernel, e.g. ${first}`] : [];
  }

  problems(): string[] {
    return this.problem ? [this.problem] : [];
  }

  // ---- the decision per prefix ----

  private consider(prefix: string, best: BestPath | undefined): void {
    this.failed.delete(prefix);
    if (!best || best.from === "local" || !this.installing.has(best.from) || this.excluded.has(prefix)) {
      if (this.installed.has(prefix) || this.want.has(prefix)) this.queue(prefix, null);
      return;
    }
    const v6 = prefix.includes(":");
    const via = pickNextHop(best.nextHops);
    let reason: string | undefined;
    if (!via) reason = `${prefix}: no usable next hop (${best.nextHops.join(",") || "none"})`;
    else if (v6 && isIP(via) === 4)
      reason = `${prefix} via ${via}: the kernel cannot route IPv6 via an IPv4 next hop`;
    if (reason || !via) {
      this.failed.set(prefix, { peer: best.from, reason: reason! });
      if (this.installed.has(prefix) || this.want.has(prefix)) this.queue(prefix, null);
      return;
    }
    this.queue(prefix, this.hop(via, undefined, best.from));
  }

  /** Every current best path of a peer (it just got the flag, or we just got a speaker). */
  private pull(peer: string): void {
    const src = this.source;
    if (!src) return;
    for (const family of UNICAST) {
      for (const r of src.receivedRoutes(peer, family)) {
        const best = src.bestPath(family, r.prefix);
        if (best?.from === peer) this.consider(r.prefix, best);
      }
    }
  }

  private hop(via: string, dev: string | undefined, peer: string | undefined): Hop {
    const key = `${peer ?? ""}|${via}|${dev ?? ""}`;
    let h = this.hops.get(key);
    if (!h) {
      h = Object.freeze({ via, ...(dev ? { dev } : {}), ...(peer !== undefined ? { peer } : {}) });
      this.hops.set(key, h);
    }
    return h;
  }

  private setInstalled(prefix: string, hop: Hop): void {
    const had = this.installed.get(prefix);
    if (had) this.counts.set(had.peer, (this.counts.get(had.peer) ?? 1) - 1);
    this.installed.set(prefix, hop);
    this.counts.set(hop.peer, (this.counts.get(hop.peer) ?? 0) + 1);
  }

  private deleteInstalled(prefix: string): void {
    const had = this.installed.get(prefix);
    if (!had) return;
    this.counts.set(had.peer, (this.counts.get(had.peer) ?? 1) - 1);
    this.installed.delete(prefix);
  }

  // ---- leftovers ----

  private armAdoptTimer(): void {
    this.adoptTimedOut = false;
    this.adoptTimer = setTimeout(() => {
      this.adoptTimedOut = true;
      this.maybeSweep();
    }, this.opts.adoptTimeoutMs ?? 120_000);
    this.adoptTimer.unref();
  }

  /** Adopted routes go once every installing peer has re-sent its table (End-of-RIB), or on timeout. */
  private maybeSweep(): void {
    if (this.adopted === 0) return;
    const src = this.source;
    // Until selection has run, the Loc-RIB does not yet say which leftovers are still wanted.
    if (src?.restartStatus?.()?.deferring) return;
    if (!this.adoptTimedOut) {
      if (!src) return;
      for (const peer of this.installing) {
        const st = src.peerStatus(peer);
        if (st?.state !== "Established") return;
        for (const f of st.negotiated?.families ?? []) {
          if (UNICAST.includes(f) && !this.endOfRib.has(`${peer}|${f}`)) return;
        }
      }
    }
    this.sweep();
  }

  private sweep(): void {
    clearTimeout(this.adoptTimer);
    this.adoptTimer = undefined;
    this.adoptTimedOut = false;
    for (const [prefix, hop] of this.installed) {
      if (hop.peer === undefined && !this.want.get(prefix)) this.queue(prefix, null);
    }
  }

  // ---- writing ----

  private queue(prefix: string, hop: Hop | null): void {
    this.want.set(prefix, hop);
    this.kick();
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = true;
    // Later in this turn of the event loop: a whole best-path batch lands before the first write.
    setImmediate(() => void this.flushLoop());
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.want.size > 0) {
        const batch: [string, Hop | null][] = [];
        for (const e of this.want) {
          batch.push(e);
          if (batch.length >= this.batchSize) break;
        }
        for (const [prefix] of batch) this.want.delete(prefix);
        await this.write(batch);
      }
    } finally {
      this.flushing = false;
      if (this.want.size > 0) this.kick();
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async write(batch: [string, Hop | null][]): Promise<void> {
    const generation = this.generation;
    const lines: string[] = [];
    const ops: [string, Hop | null][] = [];
    for (const [prefix, wish] of batch) {
      const have = this.installed.get(prefix);
      if (wish === null) {
        if (!have) continue;
        lines.push(`route del ${prefix} proto ${BGP_ROUTE_PROTO} metric ${BGP_ROUTE_METRIC}`);
        ops.push([prefix, null]);
        continue;
      }
      let hop = wish;
      if (isLinkLocal(hop.via)) {
        const dev = await this.devTowards(hop.peer!);
        if (!dev) {
          this.fail(
            prefix,
            hop,
            `${prefix} via ${hop.via}: link-local next hop, no interface towards the peer`,
          );
          continue;
        }
        hop = this.hop(hop.via, dev, hop.peer);
      }
      if (have && have.via === hop.via && have.dev === hop.dev) {
        // Already there (adopted, or the best path moved to an equal one): only the owner changes.
        this.setInstalled(prefix, hop);
        this.failed.delete(prefix);
        continue;
      }
      const cross = prefix.includes(":") !== hop.via.includes(":") ? "inet6 " : "";
      lines.push(
        `route replace ${prefix} via ${cross}${hop.via}${hop.dev ? ` dev ${hop.dev}` : ""} proto ${BGP_ROUTE_PROTO} metric ${BGP_ROUTE_METRIC}`,
      );
      ops.push([prefix, hop]);
    }
    if (lines.length === 0) return;
    let failures: Map<number, string>;
    try {
      failures = await ipBatchEach(lines, this.opts.run);
      this.problem = undefined;
    } catch (err) {
      // The whole batch is in doubt: requeue it and try again later rather than spin.
      this.problem = `writing BGP routes to the kernel failed: ${(err as Error).message}`;
      for (const [prefix, hop] of ops) if (!this.want.has(prefix)) this.want.set(prefix, hop);
      await new Promise((r) => setTimeout(r, 5000));
      return;
    }
    ops.forEach(([prefix, hop], i) => {
      const err = failures.get(i);
      if (hop === null) {
        // Gone already (someone deleted it, or an interface went down with it): that is what we wanted.
        if (!err || /No such process/i.test(err)) this.deleteInstalled(prefix);
        return;
      }
      if (err) {
        this.fail(prefix, hop, `${prefix} via ${hop.via}: ${err}`);
        return;
      }
      this.failed.delete(prefix);
      if (generation !== this.generation) this.setInstalled(prefix, this.hop(hop.via, hop.dev, undefined));
      else this.setInstalled(prefix, hop);
    });
  }

  private fail(prefix: string, hop: Hop, reason: string): void {
    this.failed.set(prefix, { peer: hop.peer ?? "", reason, hop });
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const [p, f] of this.failed) if (f.hop && !this.want.has(p)) this.queue(p, f.hop);
    }, this.opts.retryMs ?? 30_000);
    this.retryTimer.unref();
  }

  private async devTowards(peer: string): Promise<string | undefined> {
    if (!this.devs.has(peer)) {
      try {
        const [r] = await ipJson<IpRoute>(["route", "get", peer], this.opts.run);
        this.devs.set(peer, r?.dev ?? null);
      } catch {
        return undefined;
      }
    }
    return this.devs.get(peer) ?? undefined;
  }
}

function isLinkLocal(ip: string): boolean {
  return /^fe[89ab]/i.test(ip);
}

/** A global next hop before a link-local one; an IPv4-mapped IPv6 next hop is the IPv4 address. */
function pickNextHop(nextHops: readonly string[]): string | undefined {
  const usable = nextHops
    .map((h) => (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(h) ? h.slice(7) : h))
    .filter((h) => isIP(h) !== 0 && h !== "0.0.0.0" && h !== "::");
  return usable.find((h) => !isLinkLocal(h)) ?? usable[0];
}

function normaliseDst(dst: string, fam: string): string {
  if (dst === "default") return fam === "-4" ? "0.0.0.0/0" : "::/0";
  // iproute2 prints a host route without its prefix length.
  return canonicalPrefix(dst.includes("/") ? dst : `${dst}/${fam === "-4" ? 32 : 128}`);
}
