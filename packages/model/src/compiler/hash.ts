// Canonical JSON (sorted keys, no undefined) and its sha256, so equal states hash equally on every node.
import { createHash } from "node:crypto";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += value[i] === undefined ? "null" : canonicalJson(value[i]);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, independent of locale.
  const keys = Object.keys(record).sort();
  let out = "{";
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Compares strings by code unit, independent of locale, for deterministic sorting. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Compiled sections are never mutated: a section object's hash is computed once, by the
// compiler's content hash, and read again by the change feed's per-subscriber fingerprints.
const sectionHashes = new WeakMap<object, string>();

/** sha256 of canonicalJson(value) (or of `json()`, which must equal it), kept with the object. */
export function sectionHash(value: unknown, json: () => string = () => canonicalJson(value)): string {
  if (value === null || typeof value !== "object") return sha256Hex(json());
  let h = sectionHashes.get(value);
  if (h === undefined) {
    h = sha256Hex(json());
    sectionHashes.set(value, h);
  }
  return h;
}

/**
 * A desired state's content hash: sha256 over `key:sectionHash` lines, keys in order, the revision
 * and the hash itself left out. `json(key)` may give a section's canonical JSON faster (it must
 * equal the generic walk). The compiler and the agent's check both hash with this one function.
 */
export function contentHashOf(
  state: Record<string, unknown>,
  json?: (key: string) => string | undefined,
): string {
  let out = "";
  for (const key of Object.keys(state).sort()) {
    if (key === "revision" || key === "contentHash") continue;
    const v = state[key];
    if (v === undefined) continue;
    out += `${key}:${sectionHash(v, () => json?.(key) ?? canonicalJson(v))}\n`;
  }
  return sha256Hex(out);
}
