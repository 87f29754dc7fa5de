// superjson for everything, except values marked as plain JSON: those are sent as superjson's
// `{ json }` without its walk over every key, which finds nothing to annotate in them. The
// desired-state stream is the one such value, and the hot one: a thousand agents each receive
// their compiled state on every change, and the walk cost more than compiling it. Receivers
// need nothing special: `superjson.deserialize({ json })` returns `json` as it is.
import superjson from "superjson";
import { FieldValidationError } from "./errors";
import { forbiddenKeyProblems } from "./limits/raw-input";

const plain = new WeakSet<object>();

/**
 * Marks `value` as holding JSON types only (no Date, Map, Set, BigInt, RegExp; undefined fields
 * are dropped as JSON drops them) and returns it.
 */
export function asPlainJson<T extends object>(value: T): T {
  plain.add(value);
  return value;
}

export const transformer = {
  serialize: (value: unknown) =>
    typeof value === "object" && value !== null && plain.has(value)
      ? { json: value }
      : superjson.serialize(value),
  deserialize: (value: unknown) => {
    // superjson drops `__proto__` keys without a word: refuse them first, naming where they are
    // (a selector that lost its only key would select everything).
    const forbidden = forbiddenKeyProblems((value as { json?: unknown } | null)?.json);
    if (forbidden.length > 0) throw new FieldValidationError(forbidden);
    return superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0]);
  },
};
