// Sign-in throttling per account and per client address, with exponential backoff. Kept in
// memory: each API process counts on its own (N processes allow N times the attempts) and a
// restart forgets, which bounds guessing well enough without a table written on every attempt.
import { TooManyRequestsError, wholeSeconds } from "./too-many-requests";

export interface BackoffRule {
  /** Failures allowed before the first lock (a person mistyping). */
  freeFailures: number;
  /** The first lock; each further failure doubles it. */
  baseLockMs: number;
  maxLockMs: number;
  /** A key with no failure for this long starts again from zero. */
  forgetAfterMs: number;
}

interface KeyState {
  failures: number;
  /** Attempts whose password is being checked: they count against the free failures, so 50
   * attempts sent at once get no more guesses than 50 sent one by one. */
  inFlight: number;
  lockedUntil: number;
  lastFailureAt: number;
}

/** What one attempt reports back when its password has been checked (or not). */
export interface Attempt {
  succeeded(): void;
  failed(): void;
  /** Not checked at all (e.g. the hashing queue was full): as if it had never been made. */
  abandoned(): void;
}

export interface ThrottleOptions {
  account: BackoffRule;
  address: BackoffRule;
  /** Keys kept per kind; the least recently touched go first beyond it, so memory stays bounded. */
  maxKeys?: number;
  now?: () => number;
}

class KeyedBackoff {
  private readonly keys = new Map<string, KeyState>();
  constructor(
    private readonly rule: BackoffRule,
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds to wait before this key may try, 0 if it may now. */
  waitFor(key: string): number {
    const s = this.current(key);
    if (!s) return 0;
    const t = this.now();
    if (s.lockedUntil > t) return s.lockedUntil - t;
    // Past the free failures, one attempt at a time: each failure locks again, for longer.
    const budget = Math.max(1, this.rule.freeFailures - s.failures);
    return s.inFlight >= budget ? 1000 : 0;
  }

  begin(key: string): void {
    this.touch(key).inFlight++;
  }

  end(key: string, outcome: "succeeded" | "failed" | "abandoned", resetOnSuccess: boolean): void {
    const s = this.keys.get(key);
    if (!s) return;
    s.inFlight = Math.max(0, s.inFlight - 1);
    if (outcome === "succeeded" && resetOnSuccess) {
      s.failures = 0;
      s.lockedUntil = 0;
    } else if (outcome === "failed") {
      const t = this.now();
      s.failures++;
      s.lastFailureAt = t;
      const over = s.failures - this.rule.freeFailures;
      if (over > 0) {
        const lock = Math.min(this.rule.maxLockMs, this.rule.baseLockMs * 2 ** Math.min(over - 1, 30));
        s.lockedUntil = Math.max(s.lockedUntil, t + lock);
      }
    }
    if (s.failures === 0 && s.inFlight === 0) this.keys.delete(key);
  }

  private current(key: string): KeyState | undefined {
    const s = this.keys.get(key);
    if (
      s &&
      s.inFlight === 0 &&
      s.lockedUntil <= this.now() &&
      this.now() - s.lastFailureAt > this.rule.forgetAfterMs
    ) {
      this.keys.delete(key);
      return undefined;
    }
    return s;
  }

  private touch(key: string): KeyState {
    const s = this.current(key) ?? { failures: 0, inFlight: 0, lockedUntil: 0, lastFailureAt: 0 };
    // Re-inserting keeps the map in least-recently-touched order for eviction.
    this.keys.delete(key);
    this.keys.set(key, s);
    while (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next().value as string;
      this.keys.delete(oldest);
    }
    return s;
  }
}

export class LoginThrottle {
  private readonly accounts: KeyedBackoff;
  private readonly addresses: KeyedBackoff;

  constructor(opts: ThrottleOptions) {
    const now = opts.now ?? (() => Date.now());
    const maxKeys = opts.maxKeys ?? 100_000;
    this.accounts = new KeyedBackoff(opts.account, maxKeys, now);
    this.addresses = new KeyedBackoff(opts.address, maxKeys, now);
  }

  /**
   * Admits one sign-in attempt or throws TOO_MANY_REQUESTS with how long to wait. Runs before the
   * password is hashed, so a locked account costs the server nothing. `address` is null when no
   * server layer said who the client is (in-process callers); then only the account counts.
   */
  admit(account: string, address: string | null): Attempt {
    const wait = Math.max(this.accounts.waitFor(account), address ? this.addresses.waitFor(address) : 0);
    if (wait > 0) {
      throw new TooManyRequestsError(wait, `too many sign-in attempts; try again in ${wholeSeconds(wait)} s`);
    }
    this.accounts.begin(account);
    if (address) this.addresses.begin(address);
    let done = false;
    const end = (outcome: "succeeded" | "failed" | "abandoned") => {
      if (done) return;
      done = true;
      this.accounts.end(account, outcome, true);
      // A success does not clear the address: one good account must not reset the count of an
      // address that is guessing at others.
      if (address) this.addresses.end(address, outcome, false);
    };
    return {
      succeeded: () => end("succeeded"),
      failed: () => end("failed"),
      abandoned: () => end("abandoned"),
    };
  }
}

const MINUTE = 60_000;
const MAX_LOCK_MS = 15 * MINUTE;

/** The first lock; tests of the whole console raise it so that a lock outlasts a browser's steps. */
function firstLockMs(): number {
  const v = Number(process.env.MERIDIAN_LOGIN_FIRST_LOCK_MS);
  return Number.isInteger(v) && v > 0 ? Math.min(v, MAX_LOCK_MS) : 1000;
}

/**
 * Five free failures per account, twenty per address (offices share one), then 1 s doubling up
 * to 15 min: after about 15 failures an account gets one guess per quarter hour.
 */
export function defaultThrottle(): Omit<ThrottleOptions, "now"> {
  const lock = { baseLockMs: firstLockMs(), maxLockMs: MAX_LOCK_MS, forgetAfterMs: 60 * MINUTE };
  return { account: { freeFailures: 5, ...lock }, address: { freeFailures: 20, ...lock } };
}

/** The process's throttle, used by auth.login. */
export const loginThrottle = new LoginThrottle(defaultThrottle());
