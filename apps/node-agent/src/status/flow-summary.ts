// Flow events folded into summaries for the control plane (`agent.reportFlows`): one row per
// connection key (source, destination, protocol, port), verdict, reason, direction, endpoint and
// deciding rule, per window (`flowReportIntervalMs`, 15 s by default, as Calico's Goldmane), so a
// busy node sends a bounded report instead of every event. Best effort: a report that fails is
// dropped, not retried.
import type { FlowSummary } from "@meridian/model";
import type { FlowEvent } from "../features/policy/datapath.js";

// The shape is the report schema's, so the agent cannot send a field the API does not know.
export type { FlowSummary };

/** The API accepts at most this many rows per report. */
export const MAX_SUMMARIES = 5000;

export class FlowAggregator {
  private rows = new Map<string, FlowSummary>();
  /** Events that found no room this interval (more than MAX_SUMMARIES distinct flows). */
  overflow = 0;

  add(f: FlowEvent): void {
    const endpoint = f.pod ? `${f.namespace ?? "default"}/${f.pod}` : undefined;
    const key = [
      f.src,
      f.dst,
      f.proto,
      f.dport ?? "",
      f.verdict,
      f.reason ?? "",
      f.direction ?? "",
      endpoint ?? "",
      f.ruleId ?? "",
    ].join("|");
    const row = this.rows.get(key);
    if (row) {
      row.packets++;
      row.bytes += f.bytes ?? 0;
      if (f.suppressed) row.suppressed = (row.suppressed ?? 0) + f.suppressed;
      return;
    }
    if (this.rows.size >= MAX_SUMMARIES) {
      this.overflow++;
      return;
    }
    this.rows.set(key, {
      at: new Date(f.time),
      source: f.src,
      destination: f.dst,
      protocol: f.proto,
      ...(f.dport !== undefined ? { port: f.dport } : {}),
      verdict: f.verdict,
      ...(f.reason ? { reason: f.reason } : {}),
      ...(f.direction ? { direction: f.direction } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(f.ruleId ? { ruleId: f.ruleId } : {}),
      ...(f.policies?.length ? { policies: [...f.policies] } : {}),
      packets: 1,
      bytes: f.bytes ?? 0,
      ...(f.suppressed ? { suppressed: f.suppressed } : {}),
    });
  }

  /** Everything since the last drain, oldest first. */
  drain(): FlowSummary[] {
    const out = [...this.rows.values()];
    this.rows = new Map();
    this.overflow = 0;
    return out;
  }
}
