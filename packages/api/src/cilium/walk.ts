// Field-by-field copy of Cilium objects into Meridian's shape. Every field not copied is reported
// with its JSON path, so an import never loses intent silently.
import type { MeaningChange, UnsupportedField } from "./types";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class Reporter {
  readonly unsupported: UnsupportedField[] = [];
  constructor(readonly object: string) {}

  report(field: string, reason: string, change?: MeaningChange): void {
    this.unsupported.push({ object: this.object, field, reason, ...(change ? { change } : {}) });
  }

  /** Reports every key of `value` not in `known` (with the reason given for it, if any) and returns the rest. */
  pick(
    value: JsonObject,
    path: string,
    known: readonly string[],
    reasons: Record<string, string | { reason: string; change: MeaningChange }> = {},
  ): JsonObject {
    const out: JsonObject = {};
    for (const [key, v] of Object.entries(value)) {
      if (known.includes(key)) {
        out[key] = v;
        continue;
      }
      const given = Object.hasOwn(reasons, key) ? reasons[key] : undefined;
      if (typeof given === "object") this.report(`${path}.${key}`, given.reason, given.change);
      else this.report(`${path}.${key}`, given ?? `${key} is not a field Meridian knows here; left out`);
    }
    return out;
  }
}

export function asArray(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}
