// Calls that arrive together share one round trip. After every change a thousand agents
// authenticate and acknowledge within the same few hundred milliseconds; collecting what arrives
// within `maxWaitMs` (or `maxBatch` keys) into one query costs the database, and this process's
// connection pool, a fraction of a thousand single queries. Each caller still waits for, and
// gets, its own answer; if the run fails, every caller in it gets the error.
type Waiter<R> = { resolve: (r: R | undefined) => void; reject: (err: unknown) => void };

export interface KeyedBatchOptions<T> {
  maxWaitMs?: number;
  /** Default 500. */
  maxBatch?: number;
  /** Two calls with one key in a batch; default: the first item stands. */
  merge?: (earlier: T, later: T) => T;
}

export class KeyedBatch<T, R = void> {
  private pending = new Map<string, { item: T; waiters: Waiter<R>[] }>();
  private timer?: NodeJS.Timeout;

  /** `run` gets one batch's items by key and answers by key (a key it leaves out gets undefined). */
  constructor(
    private readonly run: (items: Map<string, T>) => Promise<Map<string, R> | undefined>,
    private readonly opts: KeyedBatchOptions<T> & { maxWaitMs: number },
  ) {}

  add(key: string, item: T): Promise<R | undefined> {
    return new Promise((resolve, reject) => {
      const entry = this.pending.get(key);
      if (entry) {
        if (this.opts.merge) entry.item = this.opts.merge(entry.item, item);
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(key, { item, waiters: [{ resolve, reject }] });
      }
      if (this.pending.size >= (this.opts.maxBatch ?? 500)) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.opts.maxWaitMs);
    });
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return;
    try {
      const answers = await this.run(new Map([...batch].map(([k, e]) => [k, e.item])));
      for (const [key, e] of batch) for (const w of e.waiters) w.resolve(answers?.get(key));
    } catch (err) {
      for (const e of batch.values()) for (const w of e.waiters) w.reject(err);
    }
  }
}
