// What the DNS proxy enforces for one endpoint, compiled from its desired state: which names it
// may look up (the L7 DNS rules, per port) and which toFQDNs selectors the answers' addresses are
// learned under. The name matching is the API's own (spec/fqdn.ts), so a pattern the API accepted
// means the same here.
import { dnsPatternToRegExp, normalizeDnsName } from "@meridian/model";
import type { NodeDesiredState } from "../../sync/channel.js";

type LocalEndpointState = NodeDesiredState["endpoints"][number];

export interface NameMatcher {
  /** `matchName:…` / `matchPattern:…`, as shown in logs and the CLI. */
  text: string;
  test(name: string): boolean;
}

export interface CompiledDnsRule {
  ruleId: string;
  ports: { port: number; protocol: number }[];
  allowed: NameMatcher[];
}

export interface CompiledSelector {
  identity: number;
  text: string;
  ruleIds: string[];
  test(name: string): boolean;
}

export interface EndpointDnsPolicy {
  /** `namespace/name`: how logs, the CLI and the cache name the endpoint. */
  endpointId: string;
  addresses: string[];
  rules: CompiledDnsRule[];
  selectors: CompiledSelector[];
}

const regexCache = new Map<string, RegExp>();

function matcher(sel: { matchName?: string; matchPattern?: string }): NameMatcher {
  const pattern = sel.matchName ?? sel.matchPattern ?? "";
  const text = sel.matchName !== undefined ? `matchName:${sel.matchName}` : `matchPattern:${pattern}`;
  if (sel.matchName !== undefined) {
    const want = normalizeDnsName(sel.matchName);
    return { text, test: (name) => name === want };
  }
  let re = regexCache.get(pattern);
  if (!re) {
    re = dnsPatternToRegExp(pattern);
    regexCache.set(pattern, re);
  }
  const compiled = re;
  return { text, test: (name) => compiled.test(name) };
}

export function compileEndpointDns(ep: LocalEndpointState): EndpointDnsPolicy {
  return {
    endpointId: `${ep.namespace}/${ep.name}`,
    addresses: [ep.ipv4, ep.ipv6].filter((a): a is string => a !== undefined),
    rules: ep.dnsRules.map((r) => ({ ruleId: r.ruleId, ports: r.ports, allowed: r.allowed.map(matcher) })),
    selectors: ep.fqdnSelectors.map((s) => {
      const m = matcher(s);
      return { identity: s.identity, text: m.text, ruleIds: s.ruleIds, test: m.test };
    }),
  };
}

export type DnsDecision =
  | { verdict: "allow"; ruleId: string; matched: string }
  | { verdict: "deny"; reason: string };

/**
 * Whether `rawName` may be looked up through `port`/`protocol`. Names are compared lower-cased
 * without the trailing dot. No rule for the port (the redirect and the rules disagree for a moment
 * after a change) is a denial too: the proxy never forwards what no rule allows.
 */
export function decide(
  policy: EndpointDnsPolicy,
  rawName: string,
  port: number,
  protocol: number,
): DnsDecision {
  const name = normalizeDnsName(rawName);
  const rules = policy.rules.filter((r) =>
    r.ports.some((p) => p.port === port && (p.protocol === 0 || p.protocol === protocol)),
  );
  if (rules.length === 0)
    return { verdict: "deny", reason: `no DNS rule of ${policy.endpointId} covers port ${port}` };
  for (const rule of rules) {
    const m = rule.allowed.find((a) => a.test(name));
    if (m) return { verdict: "allow", ruleId: rule.ruleId, matched: m.text };
  }
  return {
    verdict: "deny",
    reason: `no DNS rule of ${policy.endpointId} (${rules.map((r) => r.ruleId).join(", ")}) allows ${name}`,
  };
}

/** The identities of the selectors that any of `names` (a query name and its CNAME chain) matches. */
export function selectorIdentities(policy: EndpointDnsPolicy, names: string[]): number[] {
  return policy.selectors.filter((s) => names.some((n) => s.test(n))).map((s) => s.identity);
}
