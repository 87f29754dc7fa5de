// The policy form edits a Cilium spec through plain text fields (one selector per line, lists
// separated by commas). Anything the form has no field for (CIDR sets, deny rules, DNS rules,
// port ranges) is carried through untouched, so switching form ↔ YAML never loses a rule.
import { parseAllDocuments, stringify } from "yaml";

export type Spec = Record<string, unknown> & {
  endpointSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  ingress?: Rule[];
  egress?: Rule[];
};
type Rule = Record<string, unknown>;
type PortRule = { ports?: { port: string | number; protocol?: string; endPort?: number }[]; rules?: unknown };

export interface RuleFields {
  peers: string; // selector lines
  cidrs: string;
  entities: string;
  fqdns: string; // egress only
  ports: string;
  /** toPorts too rich for one text field (several port rules): edit it in YAML. */
  portsLocked: boolean;
  rest: Rule;
}

export interface PolicyFields {
  selector: string;
  ingress: RuleFields[];
  egress: RuleFields[];
  rest: Spec;
}

export function labelsToText(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

export function textToLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf("=");
    if (eq < 0) out[p] = "";
    else out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

const list = (text: string) =>
  text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);

function portsToText(toPorts: PortRule[] | undefined): string {
  return (toPorts?.[0]?.ports ?? [])
    .map((p) => `${p.port}${p.endPort ? `-${p.endPort}` : ""}${p.protocol ? `/${p.protocol}` : ""}`)
    .join(", ");
}

function textToPorts(text: string, before: PortRule[] | undefined): PortRule[] | undefined {
  const ports = list(text).map((entry) => {
    const [range, protocol] = entry.split("/");
    const [port, end] = (range ?? "").split("-");
    const p: { port: string; protocol?: string; endPort?: number } = { port: (port ?? "").trim() };
    if (end) p.endPort = Number(end);
    if (protocol) p.protocol = protocol.trim().toUpperCase().replace("ICMPV6", "ICMPv6");
    return p;
  });
  if (ports.length === 0) return before?.[0]?.rules ? [{ ...before[0], ports: [] }] : undefined;
  return [{ ...(before?.[0] ?? {}), ports }];
}

function ruleToFields(rule: Rule, dir: "ingress" | "egress"): RuleFields {
  const peersKey = dir === "ingress" ? "fromEndpoints" : "toEndpoints";
  const cidrKey = dir === "ingress" ? "fromCIDR" : "toCIDR";
  const entKey = dir === "ingress" ? "fromEntities" : "toEntities";
  const { [peersKey]: peers, [cidrKey]: cidrs, [entKey]: entities, toFQDNs, toPorts, ...rest } = rule;
  const tp = toPorts as PortRule[] | undefined;
  return {
    peers: ((peers as { matchLabels?: Record<string, string> }[]) ?? [])
      .map((s) => labelsToText(s.matchLabels) || "(all endpoints)")
      .join("\n"),
    cidrs: ((cidrs as string[]) ?? []).join(", "),
    entities: ((entities as string[]) ?? []).join(", "),
    fqdns: ((toFQDNs as { matchName?: string; matchPattern?: string }[]) ?? [])
      .map((f) => f.matchName ?? f.matchPattern ?? "")
      .join(", "),
    ports: portsToText(tp),
    portsLocked: (tp?.length ?? 0) > 1,
    rest: { ...rest, ...(tp && tp.length > 1 ? { toPorts: tp } : {}), __toPorts: tp },
  };
}

function fieldsToRule(f: RuleFields, dir: "ingress" | "egress"): Rule {
  const { __toPorts, ...rest } = f.rest as Rule & { __toPorts?: PortRule[] };
  const out: Rule = { ...rest };
  const peers = f.peers
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => (l === "(all endpoints)" ? {} : { matchLabels: textToLabels(l) }));
  const pfx = dir === "ingress" ? "from" : "to";
  if (peers.length) out[`${pfx}Endpoints`] = peers;
  if (list(f.cidrs).length) out[`${pfx}CIDR`] = list(f.cidrs);
  if (list(f.entities).length) out[`${pfx}Entities`] = list(f.entities);
  if (dir === "egress" && list(f.fqdns).length)
    out.toFQDNs = list(f.fqdns).map((n) => (n.includes("*") ? { matchPattern: n } : { matchName: n }));
  if (!f.portsLocked) {
    const tp = textToPorts(f.ports, __toPorts);
    if (tp) out.toPorts = tp;
  }
  return out;
}

export function specToFields(spec: Spec): PolicyFields {
  const { endpointSelector, ingress, egress, ...rest } = spec;
  return {
    selector: labelsToText(endpointSelector?.matchLabels),
    ingress: (ingress ?? []).map((r) => ruleToFields(r, "ingress")),
    egress: (egress ?? []).map((r) => ruleToFields(r, "egress")),
    rest: { ...rest, __selectorExpr: endpointSelector?.matchExpressions } as Spec,
  };
}

export function fieldsToSpec(f: PolicyFields): Spec {
  const { __selectorExpr, ...rest } = f.rest as Spec & { __selectorExpr?: unknown[] };
  const spec: Spec = {
    ...rest,
    endpointSelector: {
      matchLabels: textToLabels(f.selector),
      ...(__selectorExpr ? { matchExpressions: __selectorExpr } : {}),
    },
  };
  if (f.ingress.length) spec.ingress = f.ingress.map((r) => fieldsToRule(r, "ingress"));
  if (f.egress.length) spec.egress = f.egress.map((r) => fieldsToRule(r, "egress"));
  return spec;
}

export function emptyRule(): RuleFields {
  return { peers: "", cidrs: "", entities: "", fqdns: "", ports: "", portsLocked: false, rest: {} };
}

/** The Cilium manifest for a policy, as the API's export writes it. */
export function policyYaml(p: {
  name: string;
  namespace: string;
  enabled: boolean;
  spec: Spec;
  /** The stored version this edit started from: the import refuses the YAML if it moved on since. */
  version?: number;
}): string {
  const { enabled: _e, ...spec } = p.spec;
  const annotations = {
    ...(p.enabled ? {} : { "meridian.io/enabled": "false" }),
    ...(p.version !== undefined ? { "meridian.io/version": String(p.version) } : {}),
  };
  const doc = {
    apiVersion: "cilium.io/v2",
    kind: p.namespace ? "CiliumNetworkPolicy" : "CiliumClusterwideNetworkPolicy",
    metadata: {
      name: p.name,
      ...(p.namespace ? { namespace: p.namespace } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec,
  };
  return stringify(doc);
}

/** The first policy in a YAML text, for "YAML → form". */
export function parsePolicyYaml(
  text: string,
): { name: string; namespace: string; enabled: boolean; spec: Spec } | { error: string } {
  try {
    const docs = parseAllDocuments(text);
    const first = docs[0];
    if (!first) return { error: "the YAML is empty" };
    if (first.errors.length) return { error: first.errors[0]!.message };
    const doc = first.toJS() as {
      kind?: string;
      metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
      spec?: Spec;
    };
    if (doc?.kind !== "CiliumNetworkPolicy" && doc?.kind !== "CiliumClusterwideNetworkPolicy")
      return { error: `kind ${JSON.stringify(doc?.kind)} is not a CiliumNetworkPolicy` };
    return {
      name: doc.metadata?.name ?? "",
      namespace: doc.kind === "CiliumNetworkPolicy" ? (doc.metadata?.namespace ?? "default") : "",
      enabled: doc.metadata?.annotations?.["meridian.io/enabled"] !== "false",
      spec: doc.spec ?? {},
    };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Dotted paths where two values differ, for "they changed …" after a conflict. */
export function changedPaths(a: unknown, b: unknown, path = "", depth = 3): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (depth === 0 || typeof a !== "object" || typeof b !== "object" || !a || !b) return [path || "(value)"];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) =>
    changedPaths(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      path ? `${path}.${k}` : k,
      depth - 1,
    ),
  );
}
