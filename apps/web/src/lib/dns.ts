// Words and tones for the DNS page and tiles: shape and label, never colour alone (status.tsx).
import type { Tone } from "@/components/status";

export function dnsVerdictTone(verdict: string): Tone {
  if (verdict === "allowed") return "ok";
  if (verdict === "denied") return "bad";
  if (verdict === "malformed" || verdict === "error") return "warn";
  return "unknown";
}

/** How long a learned address stays open: its TTL left, or held past it by an open connection. */
export function ttlLeft(seconds: number, held: boolean): string {
  if (seconds <= 0) return held ? "TTL passed; held by an open connection" : "expiring";
  const t = seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
  return held ? `${t} (a connection uses it)` : t;
}
