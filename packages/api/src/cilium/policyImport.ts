// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy spec → Meridian NetworkPolicySpec input.
// Every field left behind is reported with what that does to traffic; a field whose loss makes the
// policy allow or deny other traffic carries a `change`, and such objects are refused unless the
// import acknowledges it (import.ts). Cilium's semantics relied on: docs/cilium-semantics.md.
import { CLUSTER_LABEL, CLUSTER_NAME, ENTITIES } from "@meridian/model";
import type { MeaningChange } from "./types";
import { asArray, isObject, type Json, type JsonObject, type Reporter } from "./walk";

export const HOST_POLICY_REFUSAL = "host policies (nodeSelector) are not supported yet";

const POLICY_REASONS: Record<string, string> = {
  labels: "rule labels are not kept; they do not affect traffic",
};

const DIRECTIONS = {
  ingress: { l3: ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities"], fqdn: false, l7: false },
  ingressDeny: { l3: ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities"], fqdn: false, l7: false },
  egress: { l3: ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toFQDNs"], fqdn: true, l7: true },
  egressDeny: { l3: ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities"], fqdn: false, l7: false },
} as const;
type DirectionKey = keyof typeof DIRECTIONS;
const isDeny = (d: DirectionKey) => d.endsWith("Deny");

const UNSUPPORTED_L3: Record<string, string> = {
  toServices: "toServices is not supported",
  toGroups: "toGroups (cloud provider groups) is not supported",
  toRequires: "toRequires is deprecated in Cilium and not supported",
  fromRequires: "fromRequires is deprecated in Cilium and not supported",
  toNodes: "toNodes is not supported; use toEntities: [host, remote-node]",
  fromNodes: "fromNodes is not supported; use fromEntities: [host, remote-node]",
  toFQDNs: "toFQDNs is only allowed in egress allow rules",
};

/** What losing one peer selector of a rule does: an allow rule allows fewer peers, a deny rule denies fewer. */
function peerLost(direction: DirectionKey): { effect: string; change: MeaningChange } {
  return isDeny(direction)
    ? { effect: "traffic with those peers is no longer denied by this rule", change: "allows-more" }
    : { effect: "those peers are no longer allowed by this rule", change: "denies-more" };
}

/**
 * Labels Cilium puts on every endpoint that Meridian's endpoints do not carry: a selector on them
 * matches differently (In/Exists match nothing; NotIn/DoesNotExist match everything).
 */
function unsetLabelProblem(key: string, values: string[] | undefined): string | undefined {
  const bare = key.replace(/^(k8s|any):/, "");
  if (bare.startsWith("reserved:"))
    return `Meridian endpoints carry no reserved: labels (${bare}); select reserved identities with fromEntities/toEntities`;
  if (bare === CLUSTER_LABEL) {
    // Meridian endpoints carry the label with Cilium's default cluster name.
    if (values === undefined || values.every((v) => v === CLUSTER_NAME)) return undefined;
    return `Meridian's one cluster is named "${CLUSTER_NAME}" (io.cilium.k8s.policy.cluster), not ${values
      .filter((v) => v !== CLUSTER_NAME)
      .map((v) => JSON.stringify(v))
      .join(", ")}`;
  }
  if (bare === "io.cilium.k8s.policy.serviceaccount")
    return "only endpoints of pods the agent watches in Kubernetes (--kubeconfig) carry a service account label (io.cilium.k8s.policy.serviceaccount); endpoints the CNI made without Kubernetes carry it only if their CNI labels (MERIDIAN_LABELS, runtimeConfig.labels) give it, so elsewhere the selector matches differently";
  if (bare.startsWith("io.cilium.k8s.namespace.labels."))
    return `only endpoints of pods the agent watches in Kubernetes (--kubeconfig) carry namespace labels (${bare}); endpoints the CNI made without Kubernetes carry them only if their CNI labels give them, so elsewhere the selector matches differently`;
  if (bare.startsWith("io.cilium.k8s.policy.") || bare === "io.cilium.k8s.policy.derived-from")
    return `Meridian endpoints carry no ${bare} label`;
  return undefined;
}

/** The keys a selector constrains, with the values it compares them to (none for Exists/DoesNotExist). */
function selectorKeys(selector: Json | undefined): { key: string; at: string; values?: string[] }[] {
  if (!isObject(selector)) return [];
  const out: { key: string; at: string; values?: string[] }[] = [];
  if (isObject(selector.matchLabels))
    for (const [key, value] of Object.entries(selector.matchLabels))
      out.push({ key, at: `matchLabels.${key}`, values: [String(value)] });
  asArray(selector.matchExpressions).forEach((req, i) => {
    if (!isObject(req) || typeof req.key !== "string") return;
    const valued = req.operator === "In" || req.operator === "NotIn";
    out.push({
      key: req.key,
      at: `matchExpressions[${i}]`,
      ...(valued ? { values: asArray(req.values).map(String) } : {}),
    });
  });
  return out;
}

/** Reports selectors on labels Meridian never sets, with what that does to the rule or the policy. */
function checkSelectorLabels(
  selector: Json | undefined,
  path: string,
  effect: string,
  change: MeaningChange,
  r: Reporter,
) {
  for (const { key, at, values } of selectorKeys(selector)) {
    const problem = unsetLabelProblem(key, values);
    if (problem)
      r.report(
        `${path}.${at}`,
        `${problem}, so this selector matches other endpoints than in Cilium: ${effect}`,
        change,
      );
  }
}

const L7_NAMES: Record<string, string> = {
  http: "HTTP",
  kafka: "Kafka",
  l7: "generic L7",
  l7proto: "generic L7",
};

function importPortRule(
  portRule: Json,
  path: string,
  direction: DirectionKey,
  r: Reporter,
): JsonObject | undefined {
  if (!isObject(portRule)) return undefined;
  const allowL7 = DIRECTIONS[direction].l7;
  const ports = describePorts(portRule.ports);
  const out = r.pick(portRule, path, ["ports", "rules"], {
    originatingTLS: {
      reason: `originatingTLS dropped: connections to ${ports} are no longer wrapped in TLS by the proxy`,
      change: "differs",
    },
    terminatingTLS: {
      reason: `terminatingTLS dropped: TLS on ${ports} is no longer terminated by the proxy, so its L7 rules cannot apply`,
      change: "differs",
    },
    serverNames: {
      reason: `serverNames dropped: ${ports} now allows TLS to every server name, not only the listed ones`,
      change: "allows-more",
    },
    listener: {
      reason: "listener dropped: traffic is no longer sent to that Envoy listener",
      change: "differs",
    },
  });
  if (isObject(out.rules)) {
    const kept: JsonObject = {};
    for (const [key, value] of Object.entries(out.rules)) {
      if (key === "dns" && allowL7) kept.dns = value;
      else if (key === "dns")
        r.report(
          `${path}.rules.dns`,
          "DNS rules are only allowed in egress allow rules; dropped, which Cilium refuses too",
          "differs",
        );
      else
        r.report(
          `${path}.rules.${key}`,
          `L7 ${L7_NAMES[key] ?? key} rules are not enforced: ${ports} now allows every request, not only the listed ones`,
          "allows-more",
        );
    }
    if (Object.keys(kept).length > 0) out.rules = kept;
    else delete out.rules;
  }
  return out;
}

function describePorts(ports: Json | undefined): string {
  const list = asArray(ports)
    .filter(isObject)
    .map((p) => `${String(p.port ?? "0")}/${String(p.protocol ?? "ANY")}`);
  return list.length > 0 ? `port ${list.join(", ")}` : "the port";
}

/** What dropping `icmps` does, which depends on whether the rule also has ports. */
function icmpsDropped(direction: DirectionKey, hasPorts: boolean): { reason: string; change: MeaningChange } {
  if (isDeny(direction))
    return hasPorts
      ? { reason: "icmps dropped: the listed ICMP types are no longer denied", change: "allows-more" }
      : {
          reason:
            "icmps dropped: the rule now denies every protocol and port to its peers, not only those ICMP types",
          change: "denies-more",
        };
  return hasPorts
    ? {
        reason: "icmps dropped: the listed ICMP types are no longer allowed (only the rule's ports are)",
        change: "denies-more",
      }
    : {
        reason:
          "icmps dropped: the rule now allows every protocol and port from/to its peers, not only those ICMP types",
        change: "allows-more",
      };
}

/**
 * `icmps` that list every ICMP type of their families (as Meridian exports protocol ICMP) are
 * Meridian's ICMP port entries; anything narrower is not carried over (undefined).
 */
function icmpsAsPorts(icmps: Json | undefined): JsonObject[] | undefined {
  if (!Array.isArray(icmps) || icmps.length === 0) return undefined;
  const types = { IPv4: new Set<number>(), IPv6: new Set<number>() };
  for (const entry of icmps) {
    if (!isObject(entry) || Object.keys(entry).some((k) => k !== "fields")) return undefined;
    for (const field of asArray(entry.fields)) {
      if (!isObject(field) || Object.keys(field).some((k) => k !== "type" && k !== "family"))
        return undefined;
      const family = field.family ?? "IPv4";
      if ((family !== "IPv4" && family !== "IPv6") || typeof field.type !== "number") return undefined;
      types[family].add(field.type);
    }
  }
  const ports: JsonObject[] = [];
  for (const [family, protocol] of [
    ["IPv4", "ICMP"],
    ["IPv6", "ICMPv6"],
  ] as const) {
    if (types[family].size === 0) continue;
    if (types[family].size !== 256) return undefined;
    ports.push({ port: "0", protocol });
  }
  return ports;
}

/** Returns the imported rule; one whose every peer selector is unsupported becomes an empty rule. */
function importRule(rule: Json, path: string, direction: DirectionKey, r: Reporter): JsonObject | undefined {
  if (!isObject(rule)) return undefined;
  const spec = DIRECTIONS[direction];
  const known = [...spec.l3, "toPorts"];
  const hadL3 = Object.keys(rule).some(
    (k) => (spec.l3 as readonly string[]).includes(k) || Object.hasOwn(UNSUPPORTED_L3, k),
  );
  const lost = peerLost(direction);
  const reasons: Record<string, { reason: string; change: MeaningChange }> = {};
  for (const [key, why] of Object.entries(UNSUPPORTED_L3))
    reasons[key] = { reason: `${why}: ${lost.effect}`, change: lost.change };
  reasons.icmps = icmpsDropped(direction, Array.isArray(rule.toPorts) && rule.toPorts.length > 0);
  if (!isDeny(direction))
    reasons.authentication = {
      reason: "authentication dropped: its peers are allowed without mutual authentication",
      change: "allows-more",
    };
  const icmp = icmpsAsPorts(rule.icmps);
  const out = r.pick(
    icmp ? { ...rule, icmps: null } : rule,
    path,
    icmp ? [...known, "icmps"] : known,
    reasons,
  );
  if (icmp) {
    delete out.icmps;
    // Back into the one plain port rule the export took them from, if there is one.
    const portRules = asArray(out.toPorts);
    const only = portRules.length === 1 && isObject(portRules[0]) ? portRules[0] : undefined;
    if (only && Object.keys(only).every((k) => k === "ports"))
      out.toPorts = [{ ports: [...asArray(only.ports), ...icmp] }];
    else out.toPorts = [...portRules, { ports: icmp }];
  }
  const entitiesKey = direction.startsWith("ingress") ? "fromEntities" : "toEntities";
  if (Array.isArray(out[entitiesKey])) {
    const kept = out[entitiesKey].filter((entity, i) => {
      const ok = (ENTITIES as readonly Json[]).includes(entity);
      if (!ok)
        r.report(
          `${path}.${entitiesKey}[${i}]`,
          `entity ${JSON.stringify(entity)} is not supported: ${lost.effect}`,
          lost.change,
        );
      return ok;
    });
    if (kept.length > 0) out[entitiesKey] = kept;
    else delete out[entitiesKey];
  }
  const endpointsKey = direction.startsWith("ingress") ? "fromEndpoints" : "toEndpoints";
  asArray(out[endpointsKey]).forEach((sel, i) => {
    checkSelectorLabels(sel, `${path}.${endpointsKey}[${i}]`, lost.effect, lost.change, r);
  });
  for (const key of ["fromCIDRSet", "toCIDRSet"]) {
    if (!Array.isArray(out[key])) continue;
    out[key] = out[key].flatMap((set, i): Json[] => {
      if (!isObject(set)) return [set];
      if (set.cidr === undefined) {
        r.report(
          `${path}.${key}[${i}]`,
          `CIDR sets without cidr (cidrGroupRef, cidrGroupSelector) are not supported: ${lost.effect}`,
          lost.change,
        );
        return [];
      }
      return [r.pick(set, `${path}.${key}[${i}]`, ["cidr", "except"])];
    });
    if ((out[key] as Json[]).length === 0) delete out[key];
  }
  if (Array.isArray(out.toPorts)) {
    out.toPorts = out.toPorts
      .map((pr, i) => importPortRule(pr, `${path}.toPorts[${i}]`, direction, r))
      .filter((pr): pr is JsonObject => pr !== undefined);
  }
  const hasL3Now = Object.keys(out).some((k) => (spec.l3 as readonly string[]).includes(k));
  if (hadL3 && !hasL3Now) {
    const effect = isDeny(direction)
      ? "this deny rule is NOT imported, so that traffic is no longer denied"
      : "the rule is imported as an empty rule, which allows nothing, rather than widened to every peer";
    r.report(
      path,
      `every peer selector in this rule is unsupported; ${effect}`,
      isDeny(direction) ? "allows-more" : "denies-more",
    );
    // An empty rule keeps the direction default-deny, as the original policy made it.
    return {};
  }
  return out;
}

export function importPolicySpec(spec: JsonObject, path: string, r: Reporter): JsonObject {
  const out = r.pick(
    spec,
    path,
    [
      "description",
      "endpointSelector",
      "enableDefaultDeny",
      "ingress",
      "ingressDeny",
      "egress",
      "egressDeny",
    ],
    POLICY_REASONS,
  );
  if (isObject(out.enableDefaultDeny))
    out.enableDefaultDeny = r.pick(out.enableDefaultDeny, `${path}.enableDefaultDeny`, ["ingress", "egress"]);
  checkSelectorLabels(
    out.endpointSelector,
    `${path}.endpointSelector`,
    "the policy applies to other endpoints",
    "differs",
    r,
  );
  for (const direction of Object.keys(DIRECTIONS) as DirectionKey[]) {
    if (out[direction] === undefined) continue;
    out[direction] = asArray(out[direction])
      .map((rule, i) => importRule(rule, `${path}.${direction}[${i}]`, direction, r))
      .filter((rule): rule is JsonObject => rule !== undefined);
  }
  return out;
}
