// Compiles network policies into per-endpoint entries (identity, protocol, port range → verdict).
// Semantics follow Cilium: L3 selectors in one rule are alternatives, toPorts narrows them, deny
// entries win over allow entries, and a direction is default-deny once a policy has rules for it
// (unless the policy's enableDefaultDeny says otherwise).
import {
  type CidrRule,
  canonicalCidr,
  type EndpointPort,
  type Entity,
  type FqdnSelector,
  isNamedPort,
  type LabelSelector,
  normalizeDnsName,
  type PortRule,
  type Protocol,
  parseCidr,
} from "../spec";
import { byText } from "./hash";
import {
  allocateLocalIdentities,
  CIDR_IDENTITY_BASE,
  FQDN_IDENTITY_BASE,
  ReservedIdentity,
} from "./identity";
import { policyKey, policySelectsEndpoint, scopeSelector } from "./selection";
import type { SnapshotEndpoint, SnapshotPolicy } from "./snapshot";
import { identitiesMatching, type SnapshotIndex } from "./snapshotIndex";
import {
  type CompileProblem,
  type Direction,
  type DnsRuleState,
  type FqdnSelectorState,
  type PolicyEntry,
  PROTOCOL_NUMBERS,
  type Verdict,
} from "./types";

/** A policy rule in either direction, with the field names of both directions folded together. */
interface AnyRule {
  endpoints?: LabelSelector[];
  cidrs?: string[];
  cidrSets?: CidrRule[];
  entities?: Entity[];
  fqdns?: FqdnSelector[];
  toPorts?: PortRule[];
}

type RuleKind = "ingress" | "ingressDeny" | "egress" | "egressDeny";

export interface RuleRef {
  policy: SnapshotPolicy;
  kind: RuleKind;
  index: number;
  rule: AnyRule;
}

const KIND_DIRECTION: Record<RuleKind, Direction> = {
  ingress: "ingress",
  ingressDeny: "ingress",
  egress: "egress",
  egressDeny: "egress",
};
const KIND_VERDICT: Record<RuleKind, Verdict> = {
  ingress: "allow",
  ingressDeny: "deny",
  egress: "allow",
  egressDeny: "deny",
};

export function rulesOf(policy: SnapshotPolicy): RuleRef[] {
  const spec = policy.spec;
  const out: RuleRef[] = [];
  const add = (kind: RuleKind, rules: AnyRule[] | undefined) =>
    rules?.forEach((rule, index) => {
      out.push({ policy, kind, index, rule });
    });
  add(
    "ingress",
    spec.ingress?.map((r) => ({
      endpoints: r.fromEndpoints,
      cidrs: r.fromCIDR,
      cidrSets: r.fromCIDRSet,
      entities: r.fromEntities,
      toPorts: r.toPorts,
    })),
  );
  add(
    "ingressDeny",
    spec.ingressDeny?.map((r) => ({
      endpoints: r.fromEndpoints,
      cidrs: r.fromCIDR,
      cidrSets: r.fromCIDRSet,
      entities: r.fromEntities,
      toPorts: r.toPorts,
    })),
  );
  add(
    "egress",
    spec.egress?.map((r) => ({
      endpoints: r.toEndpoints,
      cidrs: r.toCIDR,
      cidrSets: r.toCIDRSet,
      entities: r.toEntities,
      fqdns: r.toFQDNs,
      toPorts: r.toPorts,
    })),
  );
  add(
    "egressDeny",
    spec.egressDeny?.map((r) => ({
      endpoints: r.toEndpoints,
      cidrs: r.toCIDR,
      cidrSets: r.toCIDRSet,
      entities: r.toEntities,
      toPorts: r.toPorts,
    })),
  );
  return out;
}

export function ruleId(ref: RuleRef): string {
  return `${policyKey(ref.policy)}/${ref.kind}[${ref.index}]`;
}

/** Every CIDR rule of a rule as cidr + excepts; plain toCIDR entries have no excepts. */
function cidrRulesOf(rule: AnyRule): { cidr: string; except: string[] }[] {
  return [
    ...(rule.cidrs ?? []).map((cidr) => ({ cidr: canonicalCidr(cidr), except: [] })),
    ...(rule.cidrSets ?? []).map((set) => ({
      cidr: canonicalCidr(set.cidr),
      except: (set.except ?? []).map(canonicalCidr),
    })),
  ];
}

function isDefaultRoute(prefix: string): boolean {
  return prefix === "0.0.0.0/0" || prefix === "::/0";
}

export function fqdnSelectorKey(selector: { matchName?: string; matchPattern?: string }): string {
  return selector.matchName !== undefined
    ? `matchName:${normalizeDnsName(selector.matchName)}`
    : `matchPattern:${normalizeDnsName(selector.matchPattern ?? "")}`;
}

/** Node-local identities for the CIDR prefixes and FQDN selectors that the given rules use. */
export interface LocalIdentities {
  cidr: Map<string, number>;
  fqdn: Map<string, number>;
}

export function allocateRuleIdentities(rules: RuleRef[]): LocalIdentities {
  const prefixes = new Set<string>();
  const fqdnKeys = new Set<string>();
  for (const { rule } of rules) {
    for (const { cidr, except } of cidrRulesOf(rule)) {
      for (const prefix of [cidr, ...except]) if (!isDefaultRoute(prefix)) prefixes.add(prefix);
    }
    for (const selector of rule.fqdns ?? []) fqdnKeys.add(fqdnSelectorKey(selector));
  }
  return {
    cidr: allocateLocalIdentities(prefixes, CIDR_IDENTITY_BASE),
    fqdn: allocateLocalIdentities(fqdnKeys, FQDN_IDENTITY_BASE),
  };
}

function prefixWithin(inner: string, outer: string): boolean {
  const a = parseCidr(inner)!;
  const b = parseCidr(outer)!;
  if (a.family !== b.family || a.prefixLength < b.prefixLength) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - b.prefixLength);
  return a.network >> shift === b.network >> shift;
}

export interface PeerUniverse {
  index: SnapshotIndex;
  local: LocalIdentities;
  /** Endpoint identities with their own ipcache entries on this node; other pods are cluster-pod. */
  ipcacheIdentities: number[];
}

/**
 * The remote identities a rule's L3 part selects: `[0]` (any) when it only has ports, none when it is empty.
 * A CIDR selects every known prefix inside it that is not inside one of its excepts, so an
 * excepted range keeps its own identity that this rule never allows (longest prefix wins).
 */
export function remoteIdentities(ref: RuleRef, universe: PeerUniverse): number[] {
  const { rule } = ref;
  const hasL3 = [rule.endpoints, rule.cidrs, rule.cidrSets, rule.entities, rule.fqdns].some(
    (f) => f !== undefined,
  );
  // An empty rule (`- {}`) selects nothing: it only switches the direction to default-deny, as in Cilium.
  if (!hasL3) return rule.toPorts && rule.toPorts.length > 0 ? [ReservedIdentity.any] : [];
  const out = new Set<number>();
  for (const selector of rule.endpoints ?? []) {
    for (const id of identitiesMatching(universe.index, scopeSelector(selector, ref.policy.namespace)))
      out.add(id);
  }
  for (const { cidr, except } of cidrRulesOf(rule)) {
    if (isDefaultRoute(cidr)) {
      // The default route is world: addresses learned from DNS answers are inside it too.
      out.add(ReservedIdentity.world);
      for (const id of universe.local.fqdn.values()) out.add(id);
    }
    for (const [prefix, id] of universe.local.cidr) {
      if (prefixWithin(prefix, cidr) && !except.some((e) => prefixWithin(prefix, e))) out.add(id);
    }
  }
  for (const entity of rule.entities ?? []) for (const id of entityIdentities(entity, universe)) out.add(id);
  for (const selector of rule.fqdns ?? []) {
    const id = universe.local.fqdn.get(fqdnSelectorKey(selector));
    if (id !== undefined) out.add(id);
  }
  return [...out].sort((a, b) => a - b);
}

function entityIdentities(entity: Entity, universe: PeerUniverse): number[] {
  switch (entity) {
    case "all":
      return [ReservedIdentity.any];
    case "host":
      return [ReservedIdentity.host];
    case "remote-node":
      return [ReservedIdentity.remoteNode];
    case "health":
      return [ReservedIdentity.health];
    case "world":
      // Addresses outside the cluster: the default route plus every CIDR and FQDN identity.
      return [ReservedIdentity.world, ...universe.local.cidr.values(), ...universe.local.fqdn.values()];
    case "cluster":
      return [
        ReservedIdentity.host,
        ReservedIdentity.health,
        ReservedIdentity.init,
        ReservedIdentity.remoteNode,
        ReservedIdentity.clusterPod,
        ...universe.ipcacheIdentities,
      ];
  }
}

/** Endpoint identities that the rules' endpoint selectors name; these pods need ipcache entries. */
export function selectedEndpointIdentities(rules: RuleRef[], index: SnapshotIndex): Set<number> {
  const out = new Set<number>();
  for (const ref of rules) {
    for (const selector of ref.rule.endpoints ?? []) {
      for (const id of identitiesMatching(index, scopeSelector(selector, ref.policy.namespace))) out.add(id);
    }
  }
  return out;
}

/** Every CIDR prefix (cidr and excepts) the rules use, canonical. */
export function rulePrefixes(rules: RuleRef[]): string[] {
  return [
    ...new Set(
      rules.flatMap(({ rule }) => cidrRulesOf(rule).flatMap(({ cidr, except }) => [cidr, ...except])),
    ),
  ];
}

const ALL_PORTS = { portLow: 0, portHigh: 65535 };

/** The named container ports a port name can mean for one rule and peer; none when unknown. */
export type PortNames = (name: string) => EndpointPort[];

interface NamedPortResolution {
  ranges: { protocol: number; portLow: number; portHigh: number }[];
  /** Per protocol, the numbers the name was declared with when they disagree (resolved to none). */
  conflicts: { protocol: EndpointPort["protocol"]; ports: number[] }[];
}

/**
 * A named port's numbers among the declared ports, as Cilium's NamedPortMultiMap.GetNamedPort
 * resolves them (pkg/policy/types): per protocol (the rule's, or each declared one), the one number
 * the name has there; a name declared with several numbers for a protocol resolves to none.
 */
function resolveNamedPort(
  pp: { port: string; protocol?: Protocol },
  names: PortNames | undefined,
): NamedPortResolution {
  const wanted = pp.protocol && pp.protocol !== "ANY" ? pp.protocol : undefined;
  const byProtocol = new Map<EndpointPort["protocol"], Set<number>>();
  for (const declared of names?.(pp.port) ?? []) {
    if (wanted && declared.protocol !== wanted) continue;
    const numbers = byProtocol.get(declared.protocol) ?? new Set<number>();
    numbers.add(declared.port);
    byProtocol.set(declared.protocol, numbers);
  }
  const out: NamedPortResolution = { ranges: [], conflicts: [] };
  for (const [protocol, numbers] of [...byProtocol].sort(([a], [b]) => byText(a, b))) {
    const ports = [...numbers].sort((a, b) => a - b);
    if (ports.length > 1) out.conflicts.push({ protocol, ports });
    else out.ranges.push({ protocol: PROTOCOL_NUMBERS[protocol], portLow: ports[0]!, portHigh: ports[0]! });
  }
  return out;
}

/**
 * Port ranges and protocol numbers of a rule's toPorts; one any-port, any-protocol range when absent.
 * Named ports resolve through `names`; one that resolves to nothing matches no port (never every port).
 */
export function portRanges(
  toPorts: PortRule[] | undefined,
  names?: PortNames,
): { protocol: number; portLow: number; portHigh: number }[] {
  if (!toPorts || toPorts.length === 0) return [{ protocol: PROTOCOL_NUMBERS.ANY, ...ALL_PORTS }];
  const out: { protocol: number; portLow: number; portHigh: number }[] = [];
  for (const portRule of toPorts) {
    if (!portRule.ports || portRule.ports.length === 0) {
      out.push({ protocol: PROTOCOL_NUMBERS.ANY, ...ALL_PORTS });
      continue;
    }
    for (const pp of portRule.ports) {
      if (isNamedPort(pp.port)) {
        out.push(
          ...resolveNamedPort({ port: pp.port, ...(pp.protocol ? { protocol: pp.protocol } : {}) }, names)
            .ranges,
        );
        continue;
      }
      const protocol = PROTOCOL_NUMBERS[(pp.protocol ?? "ANY") as Protocol];
      const port = Number(pp.port);
      if (port === 0) out.push({ protocol, ...ALL_PORTS });
      else out.push({ protocol, portLow: port, portHigh: pp.endPort ?? port });
    }
  }
  return out;
}

/** Declared ports of a set of endpoints under one name. */
const portsNamed =
  (endpoints: readonly SnapshotEndpoint[]): PortNames =>
  (name) =>
    endpoints.flatMap((e) => (e.ports ?? []).filter((p) => p.name === name));

/**
 * Where a rule's named ports resolve, as in Cilium: an ingress rule's against the endpoint the
 * policy is compiled for (the traffic's destination, its own NamedPortMap); an egress rule's
 * against the named ports of every endpoint of the cluster (Cilium's ipcache NamedPortMultiMap),
 * whatever the destination.
 */
function namesFor(ref: RuleRef, endpoint: SnapshotEndpoint, index: SnapshotIndex): PortNames {
  return portsNamed(KIND_DIRECTION[ref.kind] === "ingress" ? [endpoint] : index.allEndpoints);
}

/**
 * One line per named port that resolves to nothing, on the nodes whose endpoints the policy
 * selects: no endpoint declares it (for ingress: no selected endpoint), or endpoints declare it
 * with different numbers (egress, where Cilium then resolves it to no port). There the entry
 * matches no port: an allow rule opens less than its author meant, a deny rule denies less.
 */
export function namedPortProblems(
  rules: RuleRef[],
  localEndpoints: SnapshotEndpoint[],
  universe: PeerUniverse,
): CompileProblem[] {
  const out: CompileProblem[] = [];
  for (const ref of rules) {
    const named = (ref.rule.toPorts ?? []).flatMap((portRule, i) =>
      (portRule.ports ?? []).flatMap((pp, j) =>
        isNamedPort(pp.port)
          ? [
              {
                at: `toPorts[${i}].ports[${j}].port`,
                pp: { port: pp.port, ...(pp.protocol ? { protocol: pp.protocol } : {}) },
              },
            ]
          : [],
      ),
    );
    if (named.length === 0) continue;
    const ingress = KIND_DIRECTION[ref.kind] === "ingress";
    const candidates = ingress
      ? localEndpoints.filter((ep) =>
          policySelectsEndpoint(ref.policy, ep, universe.index.endpointLabels.get(ep) ?? {}),
        )
      : universe.index.allEndpoints;
    const effect =
      KIND_VERDICT[ref.kind] === "allow" ? "this entry allows no port" : "this entry denies no port";
    for (const { at, pp } of named) {
      const field = `${ref.kind}[${ref.index}].${at}: named port ${pp.port}`;
      const problem = (message: string) =>
        out.push({ area: "policy", object: policyKey(ref.policy), message: `${field}: ${message}` });
      if (ingress) {
        // Each selected endpoint resolves the name on its own; only a name none of them has is lost.
        if (candidates.some((ep) => resolveNamedPort(pp, portsNamed([ep])).ranges.length > 0)) continue;
        const proto = pp.protocol && pp.protocol !== "ANY" ? ` for ${pp.protocol}` : "";
        problem(`no selected endpoint declares it${proto} (endpoint ports), so ${effect}`);
        continue;
      }
      const { ranges, conflicts } = resolveNamedPort(pp, portsNamed(candidates));
      for (const c of conflicts)
        problem(
          `endpoints declare it as ${c.ports.join(" and ")} for ${c.protocol}, so it resolves to no port for ${c.protocol} (as in Cilium, which resolves an egress name cluster-wide)`,
        );
      if (ranges.length === 0 && conflicts.length === 0) {
        const proto = pp.protocol && pp.protocol !== "ANY" ? ` for ${pp.protocol}` : "";
        problem(`no endpoint declares it${proto} (endpoint ports), so ${effect}`);
      }
    }
  }
  return out;
}

export interface EndpointPolicy {
  policies: string[];
  policyEnforced: { ingress: boolean; egress: boolean };
  enforcedBy: { ingress: string[]; egress: string[] };
  entries: PolicyEntry[];
  fqdnSelectors: FqdnSelectorState[];
  dnsRules: DnsRuleState[];
}

function compareEntries(a: PolicyEntry, b: PolicyEntry): number {
  return (
    byText(a.direction, b.direction) ||
    byText(a.verdict, b.verdict) ||
    a.remoteIdentity - b.remoteIdentity ||
    a.protocol - b.protocol ||
    a.portLow - b.portLow ||
    a.portHigh - b.portHigh ||
    byText(a.ruleId, b.ruleId)
  );
}

/**
 * Whether a policy puts its endpoints into default-deny for a direction (Cilium 1.15+): as its
 * `enableDefaultDeny` says, else when it has rules for that direction. One such policy suffices.
 */
export function defaultDenies(policy: SnapshotPolicy, direction: Direction): boolean {
  const explicit = policy.spec.enableDefaultDeny?.[direction];
  if (explicit !== undefined) return explicit;
  const spec = policy.spec;
  const rules = direction === "ingress" ? [spec.ingress, spec.ingressDeny] : [spec.egress, spec.egressDeny];
  return rules.some((list) => (list?.length ?? 0) > 0);
}

export function selectingPolicies(
  policies: SnapshotPolicy[],
  endpoint: SnapshotEndpoint,
  index: SnapshotIndex,
): SnapshotPolicy[] {
  const labels = index.endpointLabels.get(endpoint) ?? {};
  return policies
    .filter((p) => policySelectsEndpoint(p, endpoint, labels))
    .sort((a, b) => byText(policyKey(a), policyKey(b)));
}

export function compileEndpointPolicy(
  endpoint: SnapshotEndpoint,
  policies: SnapshotPolicy[],
  universe: PeerUniverse,
): EndpointPolicy {
  const selecting = selectingPolicies(policies, endpoint, universe.index);
  const rules = selecting.flatMap(rulesOf);
  const entries = new Map<string, PolicyEntry>();
  const fqdnSelectors = new Map<number, FqdnSelectorState>();
  const dnsRules: DnsRuleState[] = [];
  for (const ref of rules) {
    const id = ruleId(ref);
    const ranges = portRanges(ref.rule.toPorts, namesFor(ref, endpoint, universe.index));
    for (const remoteIdentity of remoteIdentities(ref, universe)) {
      for (const range of ranges) {
        const entry: PolicyEntry = {
          direction: KIND_DIRECTION[ref.kind],
          remoteIdentity,
          ...range,
          verdict: KIND_VERDICT[ref.kind],
          ruleId: id,
        };
        entries.set(JSON.stringify(entry), entry);
      }
    }
    for (const selector of ref.rule.fqdns ?? []) {
      const identity = universe.local.fqdn.get(fqdnSelectorKey(selector))!;
      const state = fqdnSelectors.get(identity) ?? {
        identity,
        ...(selector.matchName !== undefined
          ? { matchName: normalizeDnsName(selector.matchName) }
          : { matchPattern: normalizeDnsName(selector.matchPattern ?? "") }),
        ruleIds: [],
      };
      if (!state.ruleIds.includes(id)) state.ruleIds.push(id);
      fqdnSelectors.set(identity, state);
    }
    for (const portRule of ref.rule.toPorts ?? []) {
      if (!portRule.rules?.dns) continue;
      dnsRules.push({
        ruleId: id,
        ports: portRanges([{ ports: portRule.ports }]).map((r) => ({
          port: r.portLow,
          protocol: r.protocol,
        })),
        allowed: [
          ...portRule.rules.dns.map((d) =>
            d.matchName !== undefined
              ? { matchName: normalizeDnsName(d.matchName) }
              : { matchPattern: normalizeDnsName(d.matchPattern ?? "") },
          ),
          // A policy that leaves egress default-allow only watches DNS; it refuses no name (as
          // Cilium, which adds a wildcard DNS rule in default-allow mode).
          ...(defaultDenies(ref.policy, "egress") ? [] : [{ matchPattern: "*" }]),
        ],
      });
    }
  }
  const enforcers = (direction: Direction) =>
    selecting.filter((p) => defaultDenies(p, direction)).map(policyKey);
  const enforcedBy = { ingress: enforcers("ingress"), egress: enforcers("egress") };
  return {
    policies: selecting.map(policyKey),
    policyEnforced: { ingress: enforcedBy.ingress.length > 0, egress: enforcedBy.egress.length > 0 },
    enforcedBy,
    entries: [...entries.values()].sort(compareEntries),
    fqdnSelectors: [...fqdnSelectors.values()]
      .map((s) => ({ ...s, ruleIds: s.ruleIds.sort(byText) }))
      .sort((a, b) => a.identity - b.identity),
    dnsRules: dnsRules.sort((a, b) => byText(a.ruleId, b.ruleId)),
  };
}
