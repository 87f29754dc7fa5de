// What a failed call means for a form: a sentence for the banner, messages per dotted field path
// (from the API's `data.fieldErrors`), and whether it was a conflict with someone else's edit.
export interface CallError {
  message: string;
  code: string | null;
  fieldErrors: Record<string, string[]>;
}

export function callError(err: unknown): CallError {
  const e = err as {
    message?: string;
    data?: { code?: string; fieldErrors?: Record<string, string[]> | null };
  };
  const code = e?.data?.code ?? null;
  const fieldErrors = e?.data?.fieldErrors ?? {};
  // An import's conflicts come per object; their own sentences already name the object.
  const conflicts = code === "CONFLICT" ? Object.values(fieldErrors).flat() : [];
  return {
    message: conflicts.length ? conflicts.join(" ") : e?.message || "the request failed",
    code,
    fieldErrors,
  };
}

/** Messages for `path` and everything under it (`spec.egress.0` also takes `spec.egress.0.toCIDR.1`). */
export function errorsUnder(fieldErrors: Record<string, string[]>, path: string): string[] {
  return Object.entries(fieldErrors)
    .filter(([k]) => k === path || k.startsWith(`${path}.`))
    .flatMap(([k, msgs]) => msgs.map((m) => (k === path ? m : `${k.slice(path.length + 1)}: ${m}`)));
}
