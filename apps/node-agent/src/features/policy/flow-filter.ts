// Filters for `meridian-agent flows` (and GET /v1/flows): pure, so the agent applies them before a
// flow leaves it and the tests need no datapath. Every filter given must match (AND); a flow
// without the field a filter asks about does not match it.
import type { FlowEvent } from "./datapath.js";

export interface FlowFilter {
  /** Pod name, or namespace/name; matches the local endpoint or the peer. */
  pod?: string;
  namespace?: string;
  verdict?: string;
  reason?: string;
  /** A rule id, `default-deny`, or a policy name (`ns/name`): the rule's policy or a default deny's. */
  rule?: string;
  /** Source or destination address. */
  ip?: string;
  /** Source or destination port. */
  port?: number;
  /** Protocol name (tcp, udp, icmp…) or number. */
  protocol?: string;
}

export const FLOW_FILTER_KEYS = [
  "pod",
  "namespace",
  "verdict",
  "reason",
  "rule",
  "ip",
  "port",
  "protocol",
] as const;

export function parseFlowFilter(get: (key: string) => string | null | undefined): FlowFilter {
  const f: FlowFilter = {};
  for (const key of FLOW_FILTER_KEYS) {
    const v = get(key);
    if (v === null || v === undefined || v === "") continue;
    if (key === "port") {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535)
        throw new RangeError(`port ${JSON.stringify(v)} is not a port`);
      f.port = n;
    } else {
      f[key] = v;
    }
  }
  return f;
}

const PROTOCOL_NUMBERS: Record<string, string> = {
  "1": "icmp",
  "6": "tcp",
  "17": "udp",
  "58": "icmpv6",
  "132": "sctp",
};

function podMatches(want: string, ns: string | undefined, pod: string | undefined): boolean {
  if (!pod) return false;
  const slash = want.indexOf("/");
  return slash < 0 ? pod === want : `${ns ?? "default"}/${pod}` === want;
}

export function matchesFlow(f: FlowEvent, filter: FlowFilter): boolean {
  if (
    filter.pod &&
    !podMatches(filter.pod, f.namespace, f.pod) &&
    !podMatches(filter.pod, f.peerNamespace, f.peerPod)
  )
    return false;
  if (filter.namespace && f.namespace !== filter.namespace && f.peerNamespace !== filter.namespace)
    return false;
  if (filter.verdict && f.verdict !== filter.verdict) return false;
  if (filter.reason && (f.reason ?? (f.verdict === "forwarded" ? "forwarded" : undefined)) !== filter.reason)
    return false;
  if (filter.rule && f.ruleId !== filter.rule && !(f.policies ?? []).includes(filter.rule)) return false;
  if (filter.ip && f.src !== filter.ip && f.dst !== filter.ip) return false;
  if (filter.port !== undefined && f.sport !== filter.port && f.dport !== filter.port) return false;
  if (filter.protocol) {
    const want = PROTOCOL_NUMBERS[filter.protocol] ?? filter.protocol.toLowerCase();
    if (f.proto !== want) return false;
  }
  return true;
}
