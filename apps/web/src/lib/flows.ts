// The Flows page's filters as they sit in the URL, and the words and tones it shows: shape and
// label, never colour alone (status.tsx).
import type { Tone } from "@/components/status";

export const FLOW_VERDICTS = ["forwarded", "dropped", "redirected"] as const;
export type FlowVerdict = (typeof FLOW_VERDICTS)[number];

/** The time windows the filter offers, newest flows back to `since` ago. */
export const SINCE = { "5m": 5, "15m": 15, "1h": 60, "6h": 360, "24h": 1440 } as const;
export type Since = keyof typeof SINCE;
export const DEFAULT_SINCE: Since = "1h";

/** Rows a page shows: the newest ones; a narrower filter finds older ones. */
export const FLOW_PAGE_SIZE = 200;

export interface FlowFilters {
  namespace?: string;
  pod?: string;
  verdict?: FlowVerdict;
  reason?: string;
  node?: string;
  since: Since;
}

type Raw = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim() || undefined;

/** The filters a URL asks for; unknown verdicts and windows fall back to none and the default. */
export function flowFilters(sp: Raw): FlowFilters {
  const verdict = one(sp.verdict);
  const since = one(sp.since);
  return {
    namespace: one(sp.namespace),
    pod: one(sp.pod),
    verdict: FLOW_VERDICTS.includes(verdict as FlowVerdict) ? (verdict as FlowVerdict) : undefined,
    reason: one(sp.reason),
    node: one(sp.node),
    since: since && since in SINCE ? (since as Since) : DEFAULT_SINCE,
  };
}

export function hasFilter(f: FlowFilters): boolean {
  return Boolean(f.namespace || f.pod || f.verdict || f.reason || f.node);
}

/** /flows with these filters (and extra parameters such as `why`), leaving out the empty ones. */
export function flowsHref(f: Partial<FlowFilters>, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) if (v) q.set(k, String(v));
  const s = q.toString();
  return s ? `/flows?${s}` : "/flows";
}

export function flowVerdictTone(verdict: string): Tone {
  if (verdict === "forwarded") return "ok";
  if (verdict === "dropped") return "bad";
  if (verdict === "redirected") return "warn";
  return "unknown";
}

/** An address with the pod the console knows at it: `shop/web-1 (10.0.1.5)`. */
export function endLabel(address: string, pod: string | undefined, port?: number): string {
  const at = port !== undefined ? `${address.includes(":") ? `[${address}]` : address}:${port}` : address;
  return pod ? `${pod} (${at})` : at;
}

export function bytesLabel(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The drops tiles (Overview, NOC): the last 15 minutes, the top reasons. */
export const DROPS_MINUTES = 15;
export const TOP_REASONS = 3;

/** A deciding rule as a tile names it: a default deny by the policies that enforce it. */
export function dropRuleLabel(r: { ruleId: string; policies: string[] }): string {
  return r.ruleId === "default-deny" && r.policies.length
    ? `default deny of ${r.policies.join(", ")}`
    : r.ruleId;
}
