// What-if: would this flow pass? Answered from the compiled entries and ipcache of the nodes that
// host the source and the destination, i.e. the same data the datapath enforces.
import { z } from "zod";
import { dnsNameMatches, dnsNameSchema, ipAddressSchema, type Protocol, protocolSchema } from "../spec";
import { compileNodeState } from "./compile";
import { RESERVED_IDENTITY_NAMES } from "./identity";
import { lookupIpcache } from "./ipcache";
import type { ClusterSnapshot, SnapshotEndpoint } from "./snapshot";
import {
  type Direction,
  type LocalEndpointState,
  type PolicyEntry,
  PROTOCOL_NUMBERS,
  type Verdict,
} from "./types";

/** The what-if question as the API accepts it; the compiler's own types follow from it. */
export const whatIfQuerySchema = z.strictObject({
  source: z.string().min(1, "name the source endpoint").max(600),
  destination: z.union([
    z.strictObject({ endpoint: z.string().min(1).max(600) }),
    z.strictObject({ ip: ipAddressSchema }),
    z.strictObject({ fqdn: dnsNameSchema }),
  ]),
  /** Destination port; ignored for ICMP. */
  port: z.number().int().min(0).max(65535, "port must be 0..65535"),
  protocol: z.union([protocolSchema, z.number().int().min(0).max(255)], {
    error: "protocol must be TCP, UDP, SCTP, ICMP, ICMPv6, ANY or an IP protocol number 0..255",
  }),
});
export type WhatIfQuery = z.infer<typeof whatIfQuerySchema>;
export type WhatIfDestination = WhatIfQuery["destination"];

export interface DirectionCheck {
  direction: Direction;
  /** The endpoint whose policy was consulted. */
  endpoint: string;
  remoteIdentity: number;
  verdict: Verdict;
  reason: string;
  ruleId?: string;
  policy?: string;
}

export interface WhatIfResult {
  verdict: Verdict;
  reason: string;
  ruleId?: string;
  policy?: string;
  /** Egress of the source, then (for a pod destination) ingress of the destination. */
  checks: DirectionCheck[];
}

function protocolNumber(protocol: Protocol | number): number {
  return typeof protocol === "number" ? protocol : PROTOCOL_NUMBERS[protocol];
}

function describeIdentity(id: number): string {
  return RESERVED_IDENTITY_NAMES[id] ?? `identity ${id}`;
}

/** Policy part of a ruleId: everything before the last `/`. */
function policyOf(ruleId: string): string {
  return ruleId.slice(0, ruleId.lastIndexOf("/"));
}

/** Deny entries win; then any allow; then default-deny if enforced; otherwise allowed by absence of policy. */
export function evaluateEntries(
  endpoint: LocalEndpointState,
  direction: Direction,
  remoteIdentities: number[],
  protocol: number,
  port: number,
): DirectionCheck {
  const matches = (e: PolicyEntry) =>
    e.direction === direction &&
    (e.remoteIdentity === 0 || remoteIdentities.includes(e.remoteIdentity)) &&
    (e.protocol === 0 || e.protocol === protocol) &&
    port >= e.portLow &&
    port <= e.portHigh;
  const base = { direction, endpoint: endpoint.id, remoteIdentity: remoteIdentities[0] ?? 0 };
  const deny = endpoint.entries.find((e) => e.verdict === "deny" && matches(e));
  if (deny) {
    return {
      ...base,
      verdict: "deny",
      reason: `denied by ${deny.ruleId}`,
      ruleId: deny.ruleId,
      policy: policyOf(deny.ruleId),
    };
  }
  const allow = endpoint.entries.find((e) => e.verdict === "allow" && matches(e));
  if (allow) {
    return {
      ...base,
      verdict: "allow",
      reason: `allowed by ${allow.ruleId}`,
      ruleId: allow.ruleId,
      policy: policyOf(allow.ruleId),
    };
  }
  if (endpoint.policyEnforced[direction]) {
    return {
      ...base,
      verdict: "deny",
      reason: `default deny: ${endpoint.policies.join(", ")} select ${endpoint.id} for ${direction} and no rule allows ${remoteIdentities.map(describeIdentity).join(" / ")}`,
    };
  }
  return { ...base, verdict: "allow", reason: `no policy selects ${endpoint.id} for ${direction}` };
}

export class UnknownEndpointError extends Error {
  constructor(readonly endpointId: string) {
    super(`endpoint "${endpointId}" is not in the cluster snapshot`);
    this.name = "UnknownEndpointError";
  }
}

function findEndpoint(snapshot: ClusterSnapshot, id: string): SnapshotEndpoint {
  const ep = snapshot.endpoints.find((e) => e.id === id);
  if (!ep) throw new UnknownEndpointError(id);
  return ep;
}

function compiledEndpoint(snapshot: ClusterSnapshot, ep: SnapshotEndpoint) {
  const state = compileNodeState(snapshot, ep.node);
  return { state, endpoint: state.endpoints.find((e) => e.id === ep.id)! };
}

export function whatIf(snapshot: ClusterSnapshot, query: WhatIfQuery): WhatIfResult {
  const source = findEndpoint(snapshot, query.source);
  const { state: sourceState, endpoint: sourceCompiled } = compiledEndpoint(snapshot, source);
  const protocol = protocolNumber(query.protocol);
  const port = protocol === PROTOCOL_NUMBERS.ICMP || protocol === PROTOCOL_NUMBERS.ICMPv6 ? 0 : query.port;
  const checks: DirectionCheck[] = [];
  const dest = query.destination;

  if ("fqdn" in dest) {
    const refused = dnsRefusal(sourceCompiled, dest.fqdn);
    if (refused) return { verdict: "deny", reason: refused.reason, ruleId: refused.ruleId, checks };
    // Answers get a selector's identity only when the DNS proxy sees the lookup, i.e. when the
    // endpoint has DNS rules; otherwise (and for names no selector matches) the address is world.
    const ids =
      sourceCompiled.dnsRules.length === 0
        ? []
        : sourceCompiled.fqdnSelectors
            .filter((s) => dnsNameMatches(s.matchName ?? s.matchPattern ?? "", dest.fqdn))
            .map((s) => s.identity);
    const check = evaluateEntries(sourceCompiled, "egress", ids.length > 0 ? ids : [2], protocol, port);
    if (ids.length === 0 && sourceCompiled.fqdnSelectors.length > 0 && sourceCompiled.dnsRules.length === 0) {
      check.reason +=
        "; toFQDNs needs a DNS rule (toPorts rules.dns on port 53) so the proxy can learn the addresses";
    }
    checks.push(check);
    return summarize(checks);
  }

  const destEndpoint = "endpoint" in dest ? findEndpoint(snapshot, dest.endpoint) : undefined;
  const destIp = destEndpoint ? (destEndpoint.ipv4 ?? destEndpoint.ipv6) : (dest as { ip: string }).ip;
  const remote = destIp ? lookupIpcache(sourceState.ipcache, destIp)?.identity : destEndpoint?.identity;
  checks.push(evaluateEntries(sourceCompiled, "egress", [remote ?? 2], protocol, port));

  const ipOwner = destEndpoint ?? snapshot.endpoints.find((e) => e.ipv4 === destIp || e.ipv6 === destIp);
  if (ipOwner) {
    const { state: destState, endpoint: destCompiled } = compiledEndpoint(snapshot, ipOwner);
    const sourceIp = source.ipv4 ?? source.ipv6;
    const sourceIdentity = sourceIp ? lookupIpcache(destState.ipcache, sourceIp)?.identity : source.identity;
    checks.push(
      evaluateEntries(destCompiled, "ingress", [sourceIdentity ?? source.identity], protocol, port),
    );
  }
  return summarize(checks);
}

function dnsRefusal(
  endpoint: LocalEndpointState,
  name: string,
): { reason: string; ruleId?: string } | undefined {
  if (endpoint.dnsRules.length === 0) return undefined;
  const allowed = endpoint.dnsRules.some((rule) =>
    rule.allowed.some((a) => dnsNameMatches(a.matchName ?? a.matchPattern ?? "", name)),
  );
  if (allowed) return undefined;
  return {
    reason: `the DNS proxy refuses ${name}: no DNS rule of ${endpoint.id} (${endpoint.dnsRules.map((r) => r.ruleId).join(", ")}) allows it`,
  };
}

function summarize(checks: DirectionCheck[]): WhatIfResult {
  const decisive = checks.find((c) => c.verdict === "deny") ?? checks[checks.length - 1]!;
  return {
    verdict: decisive.verdict,
    reason: checks.map((c) => `${c.direction}: ${c.reason}`).join("; "),
    ...(decisive.ruleId ? { ruleId: decisive.ruleId } : {}),
    ...(decisive.policy ? { policy: decisive.policy } : {}),
    checks,
  };
}
