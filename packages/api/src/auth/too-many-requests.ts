// "Wait, then try again": one error for sign-in throttling and for a full password-hashing queue,
// carrying how long to wait, so every HTTP surface answers 429 with the same Retry-After.
import { TRPCError } from "@trpc/server";

/** Whole seconds, at least 1: what Retry-After says and what the sign-in page shows. */
export const wholeSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export class TooManyRequestsError extends TRPCError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterMs: number, message: string) {
    super({ code: "TOO_MANY_REQUESTS", message });
    // Its name stays "TRPCError": trpc-to-openapi recognises tRPC errors by name, not class.
    this.retryAfterSeconds = wholeSeconds(retryAfterMs);
  }
}

/** The longest wait any of these errors asks for, or null when none is a TooManyRequestsError. */
export function retryAfterOf(errors: readonly unknown[]): number | null {
  let wait: number | null = null;
  for (const e of errors) {
    const s = (e as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof s === "number" && Number.isFinite(s)) wait = Math.max(wait ?? 0, s);
  }
  return wait;
}

/**
 * `responseMeta` for tRPC's and trpc-to-openapi's handlers: a Retry-After header on a 429.
 * A plain object, because trpc-to-openapi copies headers with Object.entries.
 */
export function retryAfterMeta(opts: { errors: readonly unknown[] }): { headers?: Record<string, string> } {
  const wait = retryAfterOf(opts.errors);
  return wait === null ? {} : { headers: { "retry-after": String(wait) } };
}
