// What any input may be, checked on the raw request value before any schema builds an object
// from it. zod rebuilds records by assignment, so a `__proto__` key would vanish inside the
// parse and a selector would silently widen; a NUL byte would reach PostgreSQL and come back as a
// 500; a 1 MB key would be echoed back in the field path. This one check runs for every procedure
// (tRPC, REST and in-process callers alike), so no field can be forgotten. Per-field rules
// (lengths, ranges, formats) stay in the schemas; this is the floor under all of them.
import type { FieldProblem } from "../errors";

export const INPUT_LIMITS = {
  /** Objects and arrays inside objects and arrays. */
  maxDepth: 32,
  /** Any string, unless the procedure names the field as long text (`meta.longText`). */
  maxStringLength: 65_536,
  /** A label key is at most 253 (prefix) + 1 + 63 (name) characters and a source; no key needs more. */
  maxKeyLength: 340,
  maxArrayLength: 10_000,
  maxKeysPerObject: 1_000,
  /** Every value counted once: bounds the work any single request can ask of the schemas. */
  maxValues: 200_000,
  /** Problems reported for one input before we stop looking. */
  maxProblems: 20,
} as const;

/** Keys that change an object's prototype or shadow its machinery when a parser assigns them. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

// C0 controls except tab, line feed and carriage return (YAML and descriptions use them), DEL,
// and C1 controls. NUL is the one PostgreSQL refuses outright; the rest are never meant.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/**
 * Paths of keys that a parser would drop or misuse, looked for before anything copies the value
 * (superjson's deserialize deletes `__proto__` keys silently, so the guard after it would never
 * see them). Iterative, bounded like the guard.
 */
export function forbiddenKeyProblems(value: unknown): FieldProblem[] {
  const out: FieldProblem[] = [];
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  let seen = 0;
  while (stack.length > 0 && out.length < INPUT_LIMITS.maxProblems && seen++ < INPUT_LIMITS.maxValues) {
    const { v, path } = stack.pop()!;
    if (typeof v !== "object" || v === null || path.length > INPUT_LIMITS.maxDepth) continue;
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        stack.push({ v: item, path: [...path, i] });
      });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key))
        out.push({ path: [...path, key], message: `"${key}" is not allowed as a key` });
      else stack.push({ v: (v as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return out;
}

/** At most `max` characters of `text` for an error message, marked when cut. */
export function excerpt(text: string, max = 40): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: shown escaped, never raw
  const printable = text.replace(/[\u0000-\u001F\u007F-\u009F]/g, (c) => {
    const code = c.charCodeAt(0);
    return code === 9
      ? "\\t"
      : code === 10
        ? "\\n"
        : code === 13
          ? "\\r"
          : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

function describeControl(text: string): string {
  const i = text.search(CONTROL);
  const code = text.charCodeAt(i);
  const name =
    code === 0 ? "a NUL byte" : `control character U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `contains ${name} at position ${i}; remove it`;
}

export interface RawInputOptions {
  /**
   * Dotted paths (array indexes left out, e.g. `yaml`) of documents: they may be longer, and
   * their own parser checks their characters, naming the document and field (the Cilium import
   * refuses control characters inside the YAML with the document and field they are in).
   */
  longText?: Record<string, number>;
}

// A lone surrogate cannot be encoded as UTF-8 (PostgreSQL would store U+FFFD instead).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (text: string) => !LONE_SURROGATE.test(text);

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Why `input` cannot be any Meridian input, each problem at its field, or [] when it can. Keys in
 * the reported paths are cut to a short excerpt so that an attacker's megabyte never comes back.
 */
export function rawInputProblems(input: unknown, opts: RawInputOptions = {}): FieldProblem[] {
  const L = INPUT_LIMITS;
  const problems: FieldProblem[] = [];
  let values = 0;
  const add = (path: (string | number)[], message: string) => {
    if (problems.length < L.maxProblems) problems.push({ path: [...path], message });
  };
  const shapePath = (path: (string | number)[]) => path.filter((p) => typeof p === "string").join(".");

  // An explicit stack, not recursion: depth is one of the things under test.
  const stack: { value: unknown; path: (string | number)[]; depth: number }[] = [
    { value: input, path: [], depth: 0 },
  ];
  while (stack.length > 0 && problems.length < L.maxProblems) {
    const { value, path, depth } = stack.pop()!;
    values += 1;
    if (values > L.maxValues) {
      add([], `the request holds more than ${L.maxValues.toLocaleString("en")} values; split it up`);
      break;
    }
    if (value === null || value === undefined || typeof value === "boolean") continue;
    if (typeof value === "string") {
      const document = opts.longText?.[shapePath(path)];
      const max = document ?? L.maxStringLength;
      if (value.length > max) {
        add(
          path,
          `is ${value.length.toLocaleString("en")} characters long; at most ${max.toLocaleString("en")}`,
        );
      } else if (document !== undefined) {
        // A document's own parser checks its characters and names where they are.
      } else if (CONTROL.test(value)) {
        add(path, describeControl(value));
      } else if (!wellFormed(value)) {
        add(path, "is not valid Unicode text (a lone surrogate)");
      }
      continue;
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) add(path, `${value} is not a finite number`);
      else if (Number.isInteger(value) && !Number.isSafeInteger(value))
        add(path, `${value} is outside the range of exact integers (±${Number.MAX_SAFE_INTEGER})`);
      continue;
    }
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) add(path, "is not a valid date");
      continue;
    }
    if (typeof value !== "object") {
      add(path, `a ${typeof value} is not accepted here; send JSON values`);
      continue;
    }
    if (depth >= L.maxDepth) {
      add(path, `is nested more than ${L.maxDepth} levels deep`);
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length > L.maxArrayLength) {
        add(
          path,
          `has ${value.length.toLocaleString("en")} items; at most ${L.maxArrayLength.toLocaleString("en")}`,
        );
        continue;
      }
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], path: [...path, i], depth: depth + 1 });
      continue;
    }
    if (!isPlainObject(value)) {
      // FormData, Blob, Map…: our procedures take JSON only (a form post is how CSRF arrives).
      add(path, "must be JSON (objects, arrays, strings, numbers, booleans)");
      continue;
    }
    const keys = Object.keys(value);
    if (keys.length > L.maxKeysPerObject) {
      add(
        path,
        `has ${keys.length.toLocaleString("en")} keys; at most ${L.maxKeysPerObject.toLocaleString("en")}`,
      );
      continue;
    }
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k]!;
      if (key.length > L.maxKeyLength) {
        add(
          [...path, excerpt(key)],
          `key is ${key.length.toLocaleString("en")} characters long; at most ${L.maxKeyLength}`,
        );
        continue;
      }
      if (FORBIDDEN_KEYS.has(key)) {
        add([...path, key], `"${key}" is not allowed as a key`);
        continue;
      }
      if (CONTROL.test(key)) {
        add([...path, excerpt(key)], `key ${describeControl(key)}`);
        continue;
      }
      if (!wellFormed(key)) {
        add([...path, excerpt(key)], "key is not valid Unicode text (a lone surrogate)");
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key], depth: depth + 1 });
    }
  }
  return problems;
}
