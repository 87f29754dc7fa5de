// Sends the BGP looking glass to the control plane when routes change: debounced (a short settle,
// then at most one round per `minIntervalMs`), only the peers whose snapshot differs from what the
// control plane last accepted, one peer per call. A failed round is retried after a pause and in
// full after a reconnect, so the console's copy is never silently behind for long.
import { createHash } from "node:crypto";
import type { LookingGlassPeer, ReportBgpRoutesInput } from "@meridian/model";
import type { Logger } from "pino";

export interface BgpRouteReporterOptions {
  /** The looking glass now; undefined while BGP has not applied a desired state yet. */
  snapshot: () => LookingGlassPeer[] | undefined;
  send: (report: ReportBgpRoutesInput) => Promise<void>;
  log: Logger;
  /** Default 5 s: a flapping full table costs one snapshot per interval, not one per UPDATE. */
  minIntervalMs?: number;
  /** Default 250 ms: lets a burst (a session coming up, an apply) land before reading. */
  settleMs?: number;
  /** Default 30 s. */
  retryMs?: number;
}

export class BgpRouteReporter {
  private dirty = false;
  private running = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRunAt = 0;
  private failedAt = 0;
  /** Peer → hash of the snapshot the control plane accepted. */
  private sent = new Map<string, string>();
  /** The configured-peer list last accepted (sorted, joined). */
  private sentPeers?: string;

  constructor(private readonly opts: BgpRouteReporterOptions) {}

  /** Some peer's routes may have changed. */
  changed(): void {
    this.dirty = true;
    this.schedule();
  }

  /** (Re)connected to the control plane: send everything again, whatever it holds. */
  resync(): void {
    this.sent.clear();
    this.sentPeers = undefined;
    this.failedAt = 0;
    this.changed();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.running || this.stopped) return;
    const now = Date.now();
    const wait = Math.max(
      this.opts.settleMs ?? 250,
      this.lastRunAt + (this.opts.minIntervalMs ?? 5_000) - now,
      this.failedAt ? this.failedAt + (this.opts.retryMs ?? 30_000) - now : 0,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    this.timer.unref();
  }

  /** One round: build the snapshot, send what changed. Exposed for tests; normally timer-driven. */
  async flush(): Promise<void> {
    if (!this.dirty || this.stopped || this.running) return;
    this.running = true;
    this.dirty = false;
    this.lastRunAt = Date.now();
    try {
      const peers = this.opts.snapshot();
      // BGP has not applied a desired state yet: it signals a change when it has.
      if (!peers) return;
      const names = peers.map((p) => p.peer);
      const namesKey = [...names].sort().join(",");
      const changed = peers
        .map((p) => ({ peer: p, hash: createHash("sha256").update(JSON.stringify(p)).digest("base64") }))
        .filter((x) => this.sent.get(x.peer.peer) !== x.hash);
      if (changed.length === 0 && namesKey === this.sentPeers) return;
      // Every call carries the configured peers, so removed ones go with the first call.
      const batches = changed.length > 0 ? changed.map((x) => [x]) : [[]];
      for (const batch of batches) {
        await this.opts.send({ peers: batch.map((x) => x.peer), configuredPeers: names });
        for (const x of batch) this.sent.set(x.peer.peer, x.hash);
        this.sentPeers = namesKey;
      }
      for (const k of [...this.sent.keys()]) if (!names.includes(k)) this.sent.delete(k);
      this.failedAt = 0;
    } catch (err) {
      this.dirty = true;
      this.failedAt = Date.now();
      this.opts.log.warn({ err: (err as Error).message }, "BGP looking-glass report failed; retrying");
    } finally {
      this.running = false;
      if (this.dirty) this.schedule();
    }
  }
}
