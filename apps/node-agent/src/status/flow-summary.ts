// Flow events folded into summaries for the control plane (`agent.reportFlows`): one row per
// (source, destination, protocol, port, verdict, reason) and interval, so a busy node sends a
// bounded report instead of every event. Best effort: a report that fails is dropped, not retried.
import type { FlowEvent } from "../features/policy/datapath.js";

export interface FlowSummary {
  at: Date;
  source: string;
  destination: string;
  protocol: string;
  port?: number;
  verdict: "forwarded" | "dropped" | "redirected";
  reason?: string;
  packets: number;
  bytes: number;
}

/** The API accepts at most this many rows per report. */
export const MAX_SUMMARIES = 5000;

export class FlowAggregator {
  private rows = new Map<string, FlowSummary>();
  /** Events that found no room this interval (more than MAX_SUMMARIES distinct flows). */
  overflow = 0;

  add(f: FlowEvent): void {
    const key = `${f.src}|${f.dst}|${f.proto}|${f.dport ?? ""}|${f.verdict}|${f.reason ?? ""}`;
    const row = this.rows.get(key);
    if (row) {
      row.packets++;
      row.bytes += f.bytes ?? 0;
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
      packets: 1,
      bytes: f.bytes ?? 0,
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
