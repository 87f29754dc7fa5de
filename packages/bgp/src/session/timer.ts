// One-shot timer that can be restarted and never keeps the process alive on its own.
export class Timer {
  private handle: NodeJS.Timeout | undefined;
  constructor(private readonly fire: () => void) {}

  start(seconds: number): void {
    this.stop();
    this.handle = setTimeout(this.fire, seconds * 1000);
    this.handle.unref();
  }

  stop(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }
}

/** RFC 4271 §10: jitter timers by a random factor in [0.75, 1.0] so peers do not synchronise. */
export function jitter(seconds: number, random: () => number = Math.random): number {
  return seconds * (0.75 + 0.25 * random());
}
