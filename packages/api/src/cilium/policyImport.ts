// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy spec → Meridian NetworkPolicySpec input.
import { ENTITIES } from "../spec";
import { asArray, isObject, type Json, type JsonObject, type Reporter } from "./walk";

const POLICY_REASONS: Record<string, string> = {
  nodeSelector: "host policies (nodeSelector) are not supported; only pod endpoints are",
  enableDefaultDeny:
    "enableDefaultDeny is not supported: a direction is default-deny once a policy has rules for it",
  labels: "rule labels are not kept",
};

const L7_REASON =
  "L7 rules other than DNS are not enforced; the port is imported without them and is open to all requests";

const RULE_REASONS: Record<string, string> = {
  toServices: "toServices is not supported",
  toGroups: "toGroups (cloud provider groups) is not supported",
  toRequires: "toRequires is deprecated in Cilium and not supported",
  fromRequires: "fromRequires is deprecated in Cilium and not supported",
  toNodes: "toNodes is not supported; use toEntities: [host, remote-node]",
  fromNodes: "fromNodes is not supported; use fromEntities: [host, remote-node]",
  icmps: "ICMP type rules (icmps) are not supported; use toPorts with protocol ICMP",
  authentication: "mutual authentication is not supported",
};

const DIRECTIONS = {
  ingress: { l3: ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities"], fqdn: false, l7: false },
  ingressDeny: { l3: ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities"], fqdn: false, l7: false },
  egress: { l3: ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toFQDNs"], fqdn: true, l7: true },
  egressDeny: { l3: ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities"], fqdn: false, l7: false },
} as const;
type DirectionKey = keyof typeof DIRECTIONS;

const UNSUPPORTED_L3 = [
  "toServices",
  "toGroups",
  "toRequires",
  "fromRequires",
  "toNodes",
  "fromNodes",
  "toFQDNs",
];

function importPortRule(portRule: Json, path: string, allowL7: boolean, r: Reporter): JsonObject | undefined {
  if (!isObject(portRule)) return undefined;
  const out = r.pick(portRule, path, ["ports", "rules"], {
    originatingTLS: "TLS origination is not supported",
    terminatingTLS: "TLS termination is not supported",
    serverNames: "serverNames (TLS SNI) is not supported",
    listener: "Envoy listeners are not supported",
  });
  if (isObject(out.rules)) {
    const rules = out.rules;
    const kept: JsonObject = {};
    for (const [key, value] of Object.entries(rules)) {
      if (key === "dns" && allowL7) kept.dns = value;
      else if (key === "dns")
        r.report(`${path}.rules.dns`, "DNS rules are only allowed in egress allow rules");
      else r.report(`${path}.rules.${key}`, L7_REASON);
    }
    if (Object.keys(kept).length > 0) out.rules = kept;
    else delete out.rules;
  }
  return out;
}

/** Returns the imported rule; one whose every peer selector is unsupported becomes an empty rule. */
function importRule(rule: Json, path: string, direction: DirectionKey, r: Reporter): JsonObject | undefined {
  if (!isObject(rule)) return undefined;
  const spec = DIRECTIONS[direction];
  const known = [...spec.l3, "toPorts"];
  const hadL3 = Object.keys(rule).some(
    (k) => (spec.l3 as readonly string[]).includes(k) || UNSUPPORTED_L3.includes(k),
  );
  const reasons = { ...RULE_REASONS, toFQDNs: "toFQDNs is only allowed in egress allow rules" };
  const out = r.pick(rule, path, known, reasons);
  const entitiesKey = direction.startsWith("ingress") ? "fromEntities" : "toEntities";
  if (Array.isArray(out[entitiesKey])) {
    const kept = out[entitiesKey].filter((entity, i) => {
      const ok = (ENTITIES as readonly Json[]).includes(entity);
      if (!ok) r.report(`${path}.${entitiesKey}[${i}]`, `entity ${JSON.stringify(entity)} is not supported`);
      return ok;
    });
    if (kept.length > 0) out[entitiesKey] = kept;
    else delete out[entitiesKey];
  }
  for (const key of ["fromCIDRSet", "toCIDRSet"]) {
    if (!Array.isArray(out[key])) continue;
    out[key] = out[key].flatMap((set, i) => {
      if (!isObject(set)) return [set];
      if (set.cidr === undefined) {
        r.report(
          `${path}.${key}[${i}]`,
          "CIDR sets without cidr (cidrGroupRef, cidrGroupSelector) are not supported",
        );
        return [];
      }
      return [
        r.pick(set, `${path}.${key}[${i}]`, ["cidr", "except"], {
          cidrGroupRef: "CIDR groups are not supported",
        }),
      ];
    });
    if ((out[key] as Json[]).length === 0) delete out[key];
  }
  if (Array.isArray(out.toPorts)) {
    out.toPorts = out.toPorts
      .map((pr, i) => importPortRule(pr, `${path}.toPorts[${i}]`, spec.l7, r))
      .filter((pr): pr is JsonObject => pr !== undefined);
  }
  const hasL3Now = Object.keys(out).some((k) => (spec.l3 as readonly string[]).includes(k));
  if (hadL3 && !hasL3Now) {
    const effect = direction.endsWith("Deny")
      ? "this deny rule is NOT imported, so that traffic is no longer denied"
      : "the rule is imported as an empty rule, which allows nothing, rather than widened to every peer";
    r.report(path, `every peer selector in this rule is unsupported; ${effect}`);
    // An empty rule keeps the direction default-deny, as the original policy made it.
    return {};
  }
  return out;
}

export function importPolicySpec(spec: JsonObject, path: string, r: Reporter): JsonObject {
  const out = r.pick(
    spec,
    path,
    ["description", "endpointSelector", "ingress", "ingressDeny", "egress", "egressDeny"],
    POLICY_REASONS,
  );
  for (const direction of Object.keys(DIRECTIONS) as DirectionKey[]) {
    if (out[direction] === undefined) continue;
    out[direction] = asArray(out[direction])
      .map((rule, i) => importRule(rule, `${path}.${direction}[${i}]`, direction, r))
      .filter((rule): rule is JsonObject => rule !== undefined);
  }
  return out;
}
