// The DNS, egress and SRv6 tiles' words and tones (health.overview), shared by the Overview and the
// NOC wall: how many are healthy out of how many, and every other state counted by name — "stale"
// and "not reported" are states of their own, never folded into healthy.
import type { AppRouter } from "@meridian/api";
import type { inferRouterOutputs } from "@trpc/server";
import type { Tone } from "@/components/status";

export type Health = inferRouterOutputs<AppRouter>["health"]["overview"];
export type DnsHealth = inferRouterOutputs<AppRouter>["health"]["dns"];

const TONE: Record<string, Tone> = {
  up: "ok",
  forwarding: "ok",
  reachable: "ok",
  degraded: "warn",
  "no routes": "warn",
  stale: "warn",
  down: "bad",
  dropping: "bad",
  "not reported": "unknown",
  disabled: "unknown",
};

export const toneOfState = (state: string): Tone => TONE[state] ?? "unknown";

/** The states other than the healthy one, with how many are in each, worst first. */
export function otherStates(
  states: string[],
  healthy: string,
): { state: string; count: number; tone: Tone }[] {
  const order: Tone[] = ["bad", "warn", "unknown", "ok"];
  const counts = new Map<string, number>();
  for (const s of states) if (s !== healthy) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts]
    .map(([state, count]) => ({ state, count, tone: toneOfState(state) }))
    .sort((a, b) => order.indexOf(a.tone) - order.indexOf(b.tone) || (a.state < b.state ? -1 : 1));
}

/** Per-minute rates over all nodes, one decimal. */
export function dnsRates(nodes: DnsHealth["nodes"]) {
  const sum = (f: (n: DnsHealth["nodes"][number]) => number) =>
    Math.round(nodes.reduce((s, n) => s + f(n), 0) * 10) / 10;
  return { refusals: sum((n) => n.refusalsPerMinute), timeouts: sum((n) => n.timeoutsPerMinute) };
}

export const perMin = (n: number) => `${n.toLocaleString("en-GB", { maximumFractionDigits: 1 })}/min`;
