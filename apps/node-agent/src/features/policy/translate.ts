// The control plane's desired state in the datapath's terms (pure, no I/O): rules as the policy
// compiler takes them, endpoint flags, which desired entry is a local endpoint's, and the check
// that everything encodes before the first kernel write.

import type { AgentEndpoint } from "../../agent/endpoints.js";
import {
  compilePolicy,
  type EnforcementMarker,
  EP_FLAGS,
  endpointKey,
  enforcementEntries,
  ipcacheKey,
  type PolicyMapEntry,
  type PolicyRule,
  PROTOCOL_NUMBERS,
  type Protocol,
  parseAddr,
  parseCidr,
} from "../../datapath/index.js";
import type { NodeDesiredState } from "../../sync/channel.js";

export type DesiredEndpoint = NodeDesiredState["endpoints"][number];

export const PROTOCOL_NAMES: Record<number, Protocol> = Object.fromEntries(
  Object.entries(PROTOCOL_NUMBERS).map(([name, n]) => [n, name as Protocol]),
);

const U32_MAX = 0xffffffff;

/** A stable non-zero u32 for a rule id string (FNV-1a), so the map can name the rule that decided. */
export function ruleNumber(ruleId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ruleId.length; i++) {
    h ^= ruleId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** The desired state's entries for one endpoint as the policy compiler's rules. */
export function rulesOf(d: DesiredEndpoint): PolicyRule[] {
  return d.entries.map((e) => {
    const allPorts = e.portLow === 0 && e.portHigh === 65535;
    return {
      direction: e.direction,
      identity: e.remoteIdentity,
      protocol: e.protocol === 0 ? "any" : (PROTOCOL_NAMES[e.protocol] ?? "any"),
      ...(allPorts ? {} : { port: e.portLow, endPort: e.portHigh }),
      verdict: e.verdict,
      ruleId: ruleNumber(e.ruleId),
    };
  });
}

/** What an enforcement marker stands for: the policies that default-deny the endpoint in a direction. */
export interface DefaultDenyCause {
  direction: "ingress" | "egress";
  policies: string[];
}

/** The name flow events give a default deny (their policies say which). */
export const DEFAULT_DENY_RULE = "default-deny";

/**
 * The endpoint's enforcement markers (bpf/lib/policy.h), one per enforced direction. The number
 * stands for the set of policies, so endpoints that the same policies enforce share it. A state
 * from a control plane that predates `enforcedBy` names every selecting policy.
 */
export function enforcementOf(d: DesiredEndpoint): (EnforcementMarker & DefaultDenyCause)[] {
  return (["ingress", "egress"] as const).flatMap((direction) => {
    if (!d.policyEnforced[direction]) return [];
    const policies = d.enforcedBy?.[direction] ?? d.policies;
    return [
      { direction, policies, ruleId: ruleNumber(`${DEFAULT_DENY_RULE}/${direction}/${policies.join(",")}`) },
    ];
  });
}

/** Every policy map entry of one endpoint: its compiled rules and its enforcement markers. */
export function policyEntriesOf(epId: number, d: DesiredEndpoint): PolicyMapEntry[] {
  return [...compilePolicy(epId, rulesOf(d)), ...enforcementEntries(epId, enforcementOf(d))];
}

/** The policy a rule id belongs to: everything before its last `/` (`ns/name/ingress[0]` → `ns/name`). */
export function policyOfRule(ruleId: string): string {
  const i = ruleId.lastIndexOf("/");
  return i > 0 ? ruleId.slice(0, i) : ruleId;
}

export function flagsOf(d: DesiredEndpoint): number {
  return (
    (d.policyEnforced.ingress ? EP_FLAGS.POLICY_INGRESS : 0) |
    (d.policyEnforced.egress ? EP_FLAGS.POLICY_EGRESS : 0)
  );
}

/** The control plane's entry for a local endpoint: by address first, then namespace/name. */
export function desiredEndpointFor(
  state: NodeDesiredState | undefined,
  ep: AgentEndpoint,
): DesiredEndpoint | undefined {
  if (!state) return undefined;
  return (
    state.endpoints.find(
      (d) =>
        (d.ipv4 !== undefined && ep.addresses.includes(d.ipv4)) ||
        (d.ipv6 !== undefined && ep.addresses.includes(d.ipv6)),
    ) ?? state.endpoints.find((d) => d.namespace === (ep.namespace ?? "default") && d.name === ep.podName)
  );
}

export function endpointLabel(d: DesiredEndpoint): string {
  return `endpoint ${d.namespace}/${d.name}`;
}

/** Run `fn`, prefixing any error with the object it was working on. */
export function named<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

function checkU32(what: string, n: unknown): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > U32_MAX)
    throw new RangeError(`${what} ${String(n)} out of range`);
}

function checkPort(n: unknown): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new RangeError(`port ${String(n)} out of range`);
}

export function endpointKeyOf(ip: string): Buffer {
  const a = parseAddr(ip);
  return endpointKey.encode({ addr: a.bytes, family: a.family });
}

/** An ipcache entry's prefix and identity must encode; throws naming the entry. */
export function validateIpcacheEntry(e: { prefix: string; identity: number }): void {
  named(`ipcache entry ${JSON.stringify(e.prefix)}`, () => {
    const c = parseCidr(e.prefix);
    ipcacheKey.encode({ prefixlen: 32 + c.prefix, family: c.family, addr: c.bytes });
    checkU32("identity", e.identity);
  });
}

/**
 * Everything in the state must encode before anything is written: addresses, prefixes,
 * identities, protocols and ports. Throws naming the first object that does not.
 */
export function validateDesiredState(state: NodeDesiredState): void {
  for (const d of state.endpoints) {
    const label = endpointLabel(d);
    named(label, () => {
      checkU32("identity", d.identity);
      for (const ip of [d.ipv4, d.ipv6]) if (ip !== undefined) endpointKeyOf(ip);
    });
    for (const e of d.entries) {
      named(`${label}: policy rule ${JSON.stringify(e.ruleId)}`, () => {
        if (e.direction !== "ingress" && e.direction !== "egress")
          throw new RangeError(`unknown direction ${JSON.stringify(e.direction)}`);
        if (e.verdict !== "allow" && e.verdict !== "deny")
          throw new RangeError(`unknown verdict ${JSON.stringify(e.verdict)}`);
        if (e.protocol !== 0 && PROTOCOL_NAMES[e.protocol] === undefined)
          throw new RangeError(`unknown protocol ${String(e.protocol)}`);
        checkU32("remote identity", e.remoteIdentity);
        checkPort(e.portLow);
        checkPort(e.portHigh);
        if (e.portLow > e.portHigh) throw new RangeError(`empty port range ${e.portLow}-${e.portHigh}`);
      });
    }
  }
  for (const e of state.ipcache) validateIpcacheEntry(e);
}
