// Field-by-field copy of Cilium objects into Meridian's shape. Every field not copied is reported
// with its JSON path, so an import never loses intent silently.
import type { UnsupportedField } from "./types";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class Reporter {
  readonly unsupported: UnsupportedField[] = [];
  constructor(readonly object: string) {}

  report(field: string, reason: string): void {
    this.unsupported.push({ object: this.object, field, reason });
  }

  /** Reports every key of `value` not in `known` (with the reason given for it, if any) and returns the rest. */
  pick(
    value: JsonObject,
    path: string,
    known: readonly string[],
    reasons: Record<string, string> = {},
  ): JsonObject {
    const out: JsonObject = {};
    for (const [key, v] of Object.entries(value)) {
      if (known.includes(key)) out[key] = v;
      else this.report(`${path}.${key}`, reasons[key] ?? `${key} is not supported by Meridian`);
    }
    return out;
  }
}

export function asArray(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}
