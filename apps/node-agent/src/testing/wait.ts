// The one poll helper of the agent's tests: waits until `fn` returns something truthy, checking
// often at first and less often later (25 ms growing to 250 ms), so a quick condition is seen at
// once and a slow one (a BGP session, a daemon's route) does not keep the shared machine busy.
// A throw counts as "not yet"; the last one is quoted when time runs out.
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let every = 25;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, every));
    every = Math.min(250, Math.round(every * 1.5));
  }
}
