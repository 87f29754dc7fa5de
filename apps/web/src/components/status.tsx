// Status is never colour alone: every badge has a shape and a word; the palette is Okabe–Ito,
// distinguishable with the common colour-vision deficiencies.
export type Tone = "ok" | "warn" | "bad" | "unknown";

const SHAPE: Record<Tone, string> = { ok: "●", warn: "▲", bad: "■", unknown: "◆" };

export function StatusBadge({ tone, label, title }: { tone: Tone; label: string; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      <span className="badge-shape" aria-hidden="true">
        {SHAPE[tone]}
      </span>
      {label}
    </span>
  );
}

export function toneOfHealth(h: string): Tone {
  if (h === "in-sync" || h === "ok" || h === "established") return "ok";
  if (h === "lagging" || h === "degraded" || h === "pending" || h === "connect" || h === "active")
    return "warn";
  if (h === "down" || h === "error" || h === "revoked" || h === "idle") return "bad";
  return "unknown";
}
