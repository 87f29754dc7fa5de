import type { PathAttributes } from "../codec/attributes.js";
import { parseCommunity } from "../codec/communities.js";
import type { Family } from "../codec/families.js";
import { canonicalPrefix, ipv4ToString, isIpv6, parseIpv4, parseIpv6, splitPrefix } from "../codec/ip.js";

/** "10.0.0.0/8", "10.0.0.0/8 le 32", "10.0.0.0/8 ge 24 le 32" (prefix-list semantics). */
export type PrefixMatch = string;

export interface PolicyRule {
  match?: { prefixes?: PrefixMatch[]; communities?: string[]; families?: Family[] };
  action: "accept" | "reject";
  set?: {
    communities?: string[];
    largeCommunities?: string[];
    extendedCommunities?: string[];
    localPref?: number;
    med?: number;
    /** An address, or "self" for the session's own address. */
    nextHop?: string;
  };
}

export interface Policy {
  rules: PolicyRule[];
  /** What happens when no rule matches (default "reject"). */
  default?: "accept" | "reject";
}

/** A policy or "accept-all"; absent means RFC 8212 default (nothing for eBGP, everything for iBGP). */
export type PolicyConfig = Policy | "accept-all";

interface CompiledPrefix {
  v6: boolean;
  bytes: Uint8Array;
  len: number;
  ge: number;
  le: number;
}

function compilePrefix(m: PrefixMatch): CompiledPrefix {
  const [p, ...rest] = m.trim().split(/\s+/);
  const { addr, len, v6 } = splitPrefix(canonicalPrefix(p!));
  let ge = len;
  let le = len;
  for (let i = 0; i < rest.length; i += 2) {
    const n = Number(rest[i + 1]);
    if (rest[i] === "ge") {
      ge = n;
      if (le === len) le = v6 ? 128 : 32;
    } else if (rest[i] === "le") le = n;
    else throw new TypeError(`invalid prefix match: ${m}`);
  }
  return { v6, bytes: v6 ? parseIpv6(addr) : parseIpv4(addr), len, ge, le };
}

function prefixMatches(c: CompiledPrefix, prefix: string): boolean {
  const { addr, len, v6 } = splitPrefix(prefix);
  if (v6 !== c.v6 || len < c.ge || len > c.le || len < c.len) return false;
  const b = v6 ? parseIpv6(addr) : parseIpv4(addr);
  for (let bit = 0; bit < c.len; bit += 8) {
    const i = bit >> 3;
    const bits = Math.min(8, c.len - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((b[i]! & mask) !== (c.bytes[i]! & mask)) return false;
  }
  return true;
}

export interface CompiledRule {
  index: number;
  rule: PolicyRule;
  prefixes?: CompiledPrefix[];
  communities?: number[];
}

export interface CompiledPolicy {
  acceptAll: boolean;
  rules: CompiledRule[];
  default: "accept" | "reject";
}

export function compilePolicy(p: PolicyConfig | undefined, ebgp: boolean): CompiledPolicy {
  // RFC 8212: an eBGP session with no policy neither accepts nor sends routes.
  if (p === undefined) return { acceptAll: !ebgp, rules: [], default: ebgp ? "reject" : "accept" };
  if (p === "accept-all") return { acceptAll: true, rules: [], default: "accept" };
  return {
    acceptAll: false,
    default: p.default ?? "reject",
    rules: p.rules.map((rule, index) => ({
      index,
      rule,
      prefixes: rule.match?.prefixes?.map(compilePrefix),
      communities: rule.match?.communities?.map(parseCommunity),
    })),
  };
}

/** First matching rule, or null for the policy default. */
export function evaluate(
  policy: CompiledPolicy,
  family: Family,
  prefix: string,
  attrs: Readonly<PathAttributes>,
): { accept: boolean; rule?: CompiledRule } {
  if (policy.acceptAll) return { accept: true };
  for (const r of policy.rules) {
    const m = r.rule.match;
    if (m?.families && !m.families.includes(family)) continue;
    if (r.prefixes && !r.prefixes.some((c) => prefixMatches(c, prefix))) continue;
    if (r.communities && !r.communities.some((c) => attrs.communities?.includes(c))) continue;
    return { accept: r.rule.action === "accept", rule: r };
  }
  return { accept: policy.default === "accept" };
}

/** Applies a rule's `set` actions to a copy of the attributes. */
export function applySet(
  rule: CompiledRule | undefined,
  attrs: PathAttributes,
  nextHops: string[],
  selfHops: () => string[],
): { attrs: PathAttributes; nextHops: string[] } {
  const s = rule?.rule.set;
  if (!s) return { attrs, nextHops };
  const out: PathAttributes = { ...attrs };
  if (s.communities)
    out.communities = [...new Set([...(attrs.communities ?? []), ...s.communities.map(parseCommunity)])];
  if (s.largeCommunities)
    out.largeCommunities = [...new Set([...(attrs.largeCommunities ?? []), ...s.largeCommunities])];
  if (s.extendedCommunities) {
    out.extendedCommunities = [...new Set([...(attrs.extendedCommunities ?? []), ...s.extendedCommunities])];
  }
  if (s.localPref !== undefined) out.localPref = s.localPref;
  if (s.med !== undefined) out.med = s.med;
  let hops = nextHops;
  if (s.nextHop === "self") hops = selfHops();
  else if (s.nextHop) hops = [s.nextHop];
  return { attrs: out, nextHops: hops };
}

export function isIpv4Text(a: string): boolean {
  return !isIpv6(a) && ipv4ToString(parseIpv4(a)) === a;
}
