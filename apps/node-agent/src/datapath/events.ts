// Flow events from the mdp_events ring buffer, decoded.
import { type BpfMap, openRingBuffer, type RingBuffer } from "@meridian/native";
import { EVENT_VERDICT, flowEvent, formatAddr, POINT_NAMES, REASON_NAMES } from "./layout";

/** What the datapath did with a flow; "redirected": a feature's hook handed it on. */
export type FlowVerdict = "forwarded" | "dropped" | "redirected";

export interface FlowEvent {
  tsNs: bigint;
  epId: number;
  srcIdentity: number;
  dstIdentity: number;
  ruleId: number;
  bytes: number;
  ifindex: number;
  verdict: FlowVerdict;
  reason: string;
  reasonCode: number;
  point: string;
  family: 4 | 6;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** Drop events of this reason the datapath's rate limit held back just before this one. */
  suppressed: number;
}

export function decodeFlowEvent(buf: Buffer): FlowEvent {
  const e = flowEvent.decode(buf);
  return {
    tsNs: e.ts_ns,
    epId: e.ep_id,
    srcIdentity: e.src_identity,
    dstIdentity: e.dst_identity,
    ruleId: e.rule_id,
    bytes: e.bytes,
    ifindex: e.ifindex,
    verdict:
      e.verdict === EVENT_VERDICT.DROPPED
        ? "dropped"
        : e.verdict === EVENT_VERDICT.REDIRECTED
          ? "redirected"
          : "forwarded",
    reason: REASON_NAMES[e.reason] ?? `reason_${e.reason}`,
    reasonCode: e.reason,
    point: POINT_NAMES[e.point] ?? `point_${e.point}`,
    family: e.family === 6 ? 6 : 4,
    protocol: e.protocol,
    src: formatAddr(e.family, e.saddr),
    dst: formatAddr(e.family, e.daddr),
    sport: e.sport,
    dport: e.dport,
    suppressed: e.suppressed,
  };
}

/** Deliver events as they arrive (a native thread polls; the event loop never blocks). */
export function subscribeFlowEvents(events: BpfMap, onEvents: (events: FlowEvent[]) => void): RingBuffer {
  return openRingBuffer(events, (records) => onEvents(records.map(decodeFlowEvent)));
}

/** A ring buffer to drain by hand with drainFlowEvents (tests). */
export function openFlowEvents(events: BpfMap): RingBuffer {
  return openRingBuffer(events);
}

export function drainFlowEvents(rb: RingBuffer): FlowEvent[] {
  return rb.consume().map(decodeFlowEvent);
}
