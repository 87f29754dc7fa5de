// Field-level differences between two JSON snapshots, as dotted paths.
import { secretVersion } from "../auth/secret-box";

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

const VOLATILE = new Set(["version", "createdAt", "updatedAt", "updatedBy"]);

export function diffJson(before: unknown, after: unknown, path = "", out: FieldChange[] = []): FieldChange[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return out;
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (!path && VOLATILE.has(key)) continue;
      diffJson(before[key], after[key], path ? `${path}.${key}` : key, out);
    }
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    for (const [i, b] of before.entries()) diffJson(b, after[i], `${path}.${i}`, out);
    return out;
  }
  out.push({ path: path || "(all)", before: before ?? null, after: after ?? null });
  return out;
}

/**
 * Audit snapshots keep the encrypted BGP password so restores bring it back; reads only learn
 * whether one was set and its version, so a password change shows in a diff without the password.
 */
export function redact(snapshot: unknown): unknown {
  if (typeof snapshot !== "object" || snapshot === null) return snapshot ?? null;
  const s = { ...(snapshot as Record<string, unknown>) };
  if ("passwordCiphertext" in s) {
    s.hasPassword = Boolean(s.passwordCiphertext);
    if (typeof s.passwordCiphertext === "string") s.passwordVersion = secretVersion(s.passwordCiphertext);
    delete s.passwordCiphertext;
  }
  return s;
}
