// Turns an endpoint's L3/L4 rules into policy map entries (pure, no I/O).
//
// Key scheme (bpf/lib/types.h, struct policy_key): an LPM trie over
// (endpoint, remote identity, direction, protocol, port). A port range becomes the
// aligned power-of-two blocks that cover it, each one prefix. The datapath looks up
// the remote identity and IDENTITY_ANY and lets a deny from either beat an allow;
// inside one identity the longest prefix wins, so here an allow that a deny of the
// same identity covers is dropped: deny beats allow however specific the allow is.
import { DIRECTION, IDENTITY, POLICY_PREFIX, policyEntry, policyKey, VERDICT } from "./layout";

export type Protocol = "tcp" | "udp" | "sctp" | "icmp" | "icmpv6" | "any";
/** IANA protocol numbers of the protocols a rule can name. */
export const PROTOCOL_NUMBERS: Record<Exclude<Protocol, "any">, number> = {
  tcp: 6,
  udp: 17,
  sctp: 132,
  icmp: 1,
  icmpv6: 58,
};
/** Protocols a port rule with protocol "any" applies to. */
const PORTED: Exclude<Protocol, "any">[] = ["tcp", "udp", "sctp"];

export interface PolicyRule {
  direction: "ingress" | "egress";
  /** Remote identity; 0 (IDENTITY.ANY) matches every identity. */
  identity: number;
  protocol?: Protocol;
  /** Destination port (ICMP: type). Omitted: every port. */
  port?: number;
  /** Last port of a range starting at `port`, inclusive. */
  endPort?: number;
  verdict: "allow" | "deny";
  ruleId: number;
}

export interface PolicyMapEntry {
  epId: number;
  identity: number;
  direction: number;
  protocol: number;
  port: number;
  /** Prefix length as written in the key (72..96). */
  prefixlen: number;
  verdict: number;
  ruleId: number;
}

/** Aligned blocks covering [lo, hi] of a 16-bit port space: { port, bits } with bits = prefix bits of the port. */
export function portRangeToPrefixes(lo: number, hi: number): { port: number; bits: number }[] {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 65535 || lo > hi) {
    throw new RangeError(`bad port range ${lo}-${hi}`);
  }
  const out: { port: number; bits: number }[] = [];
  let cur = lo;
  while (cur <= hi) {
    let size = 1;
    let bits = 16;
    // Grow the block while it stays aligned and inside the range.
    while (bits > 0 && cur % (size * 2) === 0 && cur + size * 2 - 1 <= hi) {
      size *= 2;
      bits--;
    }
    out.push({ port: cur, bits });
    cur += size;
  }
  return out;
}

function expand(epId: number, r: PolicyRule): PolicyMapEntry[] {
  const direction = r.direction === "ingress" ? DIRECTION.INGRESS : DIRECTION.EGRESS;
  const verdict = r.verdict === "allow" ? VERDICT.ALLOW : VERDICT.DENY;
  const base = { epId, identity: r.identity, direction, verdict, ruleId: r.ruleId };
  const proto = r.protocol ?? "any";
  if (r.port === undefined) {
    if (proto === "any") return [{ ...base, protocol: 0, port: 0, prefixlen: POLICY_PREFIX.L3 }];
    return [{ ...base, protocol: PROTOCOL_NUMBERS[proto], port: 0, prefixlen: POLICY_PREFIX.PROTO }];
  }
  const protos = proto === "any" ? PORTED : [proto];
  const ranges = portRangeToPrefixes(r.port, r.endPort ?? r.port);
  return protos.flatMap((p) =>
    ranges.map((b) => ({
      ...base,
      protocol: PROTOCOL_NUMBERS[p],
      port: b.port,
      prefixlen: POLICY_PREFIX.PROTO + b.bits,
    })),
  );
}

/** Does prefix `outer` contain prefix `inner` (same endpoint, identity, direction)? */
function covers(outer: PolicyMapEntry, inner: PolicyMapEntry): boolean {
  if (outer.prefixlen > inner.prefixlen) return false;
  if (outer.prefixlen === POLICY_PREFIX.L3) return true;
  if (outer.protocol !== inner.protocol) return false;
  const portBits = outer.prefixlen - POLICY_PREFIX.PROTO;
  if (portBits === 0) return true;
  const mask = (0xffff << (16 - portBits)) & 0xffff;
  return (outer.port & mask) === (inner.port & mask);
}

export function entryId(
  e: Pick<PolicyMapEntry, "identity" | "direction" | "protocol" | "port" | "prefixlen">,
): string {
  return `${e.identity}/${e.direction}/${e.protocol}/${e.port}/${e.prefixlen}`;
}

/**
 * All map entries for one endpoint. Deterministic: the same rules always give the same
 * entries, so a reconciler can diff them against the map.
 */
export function compilePolicy(epId: number, rules: PolicyRule[]): PolicyMapEntry[] {
  const all = rules.flatMap((r) => expand(epId, r));
  // Denies grouped by (identity, direction): an allow is only ever shadowed by its own group.
  const denies = new Map<string, PolicyMapEntry[]>();
  for (const d of all) {
    if (d.verdict !== VERDICT.DENY) continue;
    const g = `${d.identity}/${d.direction}`;
    const list = denies.get(g);
    if (list) list.push(d);
    else denies.set(g, [d]);
  }
  const byKey = new Map<string, PolicyMapEntry>();
  for (const e of all) {
    if (e.verdict === VERDICT.ALLOW && denies.get(`${e.identity}/${e.direction}`)?.some((d) => covers(d, e)))
      continue;
    const id = entryId(e);
    const prev = byKey.get(id);
    // Same key twice: deny wins, then the lower rule id (stable).
    if (
      !prev ||
      (e.verdict === VERDICT.DENY && prev.verdict !== VERDICT.DENY) ||
      (e.verdict === prev.verdict && e.ruleId < prev.ruleId)
    ) {
      byKey.set(id, e);
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

export function encodePolicyKey(
  e: Pick<PolicyMapEntry, "epId" | "identity" | "direction" | "protocol" | "port" | "prefixlen">,
): Buffer {
  return policyKey.encode({
    prefixlen: e.prefixlen,
    ep_id: e.epId,
    identity: e.identity,
    direction: e.direction,
    protocol: e.protocol,
    dport: e.port,
  });
}

export function encodePolicyValue(e: Pick<PolicyMapEntry, "verdict" | "ruleId">): Buffer {
  return policyEntry.encode({ rule_id: e.ruleId, verdict: e.verdict });
}

export function decodePolicy(key: Buffer, value: Buffer): PolicyMapEntry {
  const k = policyKey.decode(key);
  const v = policyEntry.decode(value);
  return {
    epId: k.ep_id,
    identity: k.identity,
    direction: k.direction,
    protocol: k.protocol,
    port: k.dport,
    prefixlen: k.prefixlen,
    verdict: v.verdict,
    ruleId: v.rule_id,
  };
}

export { IDENTITY };

/** An endpoint's default deny in one direction, and the number that names its cause. */
export interface EnforcementMarker {
  direction: "ingress" | "egress";
  /** Stands for the policies that put the endpoint under enforcement there (the agent's table). */
  ruleId: number;
}

/**
 * The enforcement markers as map entries (bpf/lib/policy.h): L3-only entries for the reserved
 * identity IDENTITY.ENFORCEMENT with verdict 0, read by the datapath only when it default-denies,
 * so the drop event names what put the endpoint under enforcement.
 */
export function enforcementEntries(epId: number, markers: EnforcementMarker[]): PolicyMapEntry[] {
  return markers.map((m) => ({
    epId,
    identity: IDENTITY.ENFORCEMENT,
    direction: m.direction === "ingress" ? DIRECTION.INGRESS : DIRECTION.EGRESS,
    protocol: 0,
    port: 0,
    prefixlen: POLICY_PREFIX.L3,
    verdict: 0,
    ruleId: m.ruleId,
  }));
}

/** Whether a map entry is an enforcement marker rather than a rule. */
export function isEnforcementMarker(e: Pick<PolicyMapEntry, "identity">): boolean {
  return e.identity === IDENTITY.ENFORCEMENT;
}
