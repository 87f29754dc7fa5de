// How long a text and how many items of a list any Meridian object may carry, in one place.
// Generous for real networks (a policy with a thousand CIDRs is real; one with a million is an
// accident or an attack) and small enough that one request cannot occupy the control plane.
import { z } from "zod";

export const INT32_MAX = 2_147_483_647;
/** Packet and byte counters: a petabyte is more than one report window ever carries. */
export const MAX_COUNTER = 1e15;

export const MAX_TEXT = {
  /** An address or CIDR, IPv6 with a prefix at most. */
  address: 64,
  /** Object names, label keys and DNS names are at most 253 (Kubernetes, RFC 1035). */
  name: 253,
  /** Free-text search in a list. */
  search: 253,
  description: 2000,
  message: 1000,
} as const;

export const MAX_ITEMS = {
  /** Rules in one direction (ingress, egress, …) of one policy. */
  rules: 256,
  /** Endpoint selectors, entities or FQDN selectors in one rule. */
  peers: 256,
  /** CIDRs in one rule, or in one egress policy's destinations. */
  cidrs: 1024,
  ports: 64,
  /** Requirements in one label selector, and values in one requirement. */
  expressions: 32,
  values: 256,
  /** Anything else that is a short list (families, route targets, segments, gateways…). */
  small: 64,
} as const;

/** A list of at most `max` items, saying what they are when there are too many. */
export function list<T extends z.ZodType>(item: T, max: number, what: string) {
  return z
    .array(item)
    .max(max, { error: (issue) => `at most ${max} ${what}; got ${(issue.input as unknown[]).length}` });
}

/**
 * An integer from JSON, or from a query string or path ("10"): nothing else. z.coerce.number()
 * would also take `true`, `[]`, `""` and `null` (as 1, 0, 0, 0): a restore of revision `true` is
 * a restore of revision 1.
 */
export function queryInt(min: number, max: number) {
  return z.preprocess(
    (v) => (typeof v === "string" && /^-?\d{1,16}$/.test(v.trim()) ? Number(v) : v),
    z
      .number({ error: "must be a whole number" })
      .int("must be a whole number")
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );
}

/** A record version (optimistic concurrency): 1 and up, as stored. */
export const versionSchema = queryInt(1, INT32_MAX);
/** A revision number: 0 (none yet) and up. */
export const revisionNumberSchema = queryInt(0, INT32_MAX);
/** How many rows a list skips. */
export const offsetSchema = queryInt(0, INT32_MAX).default(0);
/** How many rows a list returns, at most `max`. */
export const limitSchema = (max: number, fallback: number) => queryInt(1, max).default(fallback);
export const searchSchema = z.string().max(MAX_TEXT.search);
