// CiliumNetworkPolicy `spec`, as far as Meridian enforces it. Strict objects: a misspelt field
// ("fromCidr") is an error that names it, rather than a rule that silently allows nothing.
import { z } from "zod";
import { ciliumSourceSchema } from "./ciliumSource";
import { cidrProblem, cidrSchema, dnsNameSchema, dnsPatternSchema, fqdnSelectorSchema } from "./common";
import { cidrContains } from "./ip";
import { labelSelectorSchema } from "./labels";
import { list, MAX_ITEMS } from "./limits";

export const PROTOCOLS = ["TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "ANY"] as const;
export const protocolSchema = z.enum(PROTOCOLS, {
  error: (issue) => `protocol ${JSON.stringify(issue.input)} is not one of ${PROTOCOLS.join(", ")}`,
});
export type Protocol = z.infer<typeof protocolSchema>;

export const ENTITIES = ["world", "cluster", "host", "remote-node", "health", "all"] as const;
export const entitySchema = z.enum(ENTITIES, {
  error: (issue) =>
    `entity ${JSON.stringify(issue.input)} is not supported; use one of ${ENTITIES.join(", ")}`,
});
export type Entity = z.infer<typeof entitySchema>;

/**
 * A named port as Cilium's CRD accepts it (a Kubernetes container port name, IANA_SVC_NAME): 1 to 15
 * letters, digits and single inner dashes, at least one letter. Kept as written; the compiler
 * resolves it against the endpoints' declared `ports` and lists a name none declares as a problem.
 */
export const NAMED_PORT = /^(?=.{1,15}$)(?=.*[A-Za-z])[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;
export const isNamedPort = (port: string | number): port is string =>
  typeof port === "string" && NAMED_PORT.test(port);

/** Port as Cilium writes it: a number, a numeric string or a port name; 0 means every port. */
const portOutOfRange = {
  error: (i: { input?: unknown }) => `port ${String(i.input)} is out of range: must be 0..65535`,
};
export const policyPortSchema = z
  .union(
    [z.number().int(portOutOfRange).min(0, portOutOfRange).max(65535, portOutOfRange), z.string().max(64)],
    {
      // Cilium's CRD requires it too; a port-less entry (VRRP, IGMP) has no L4 port to match.
      error: (i) =>
        i.input === undefined
          ? "port is missing: give a port number (0 for every port) or a container port name"
          : undefined,
    },
  )
  .superRefine((raw, ctx) => {
    const text = String(raw);
    if (isNamedPort(raw)) return;
    if (!/^(0|[1-9]\d{0,4})$/.test(text)) {
      ctx.addIssue({
        code: "custom",
        message: /^[a-z]/i.test(text)
          ? `port name "${text.slice(0, 20)}" is not a container port name: 1 to 15 letters, digits and single inner dashes, with at least one letter`
          : `port "${text}" is not a number`,
      });
      return;
    }
    if (Number(text) > 65535)
      ctx.addIssue({ code: "custom", message: `port ${text} is out of range: must be 0..65535` });
  });

export const portProtocolSchema = z
  .strictObject({
    port: policyPortSchema,
    endPort: z.number().int().min(0).max(65535, "endPort must be at most 65535").optional(),
    protocol: protocolSchema.optional(),
  })
  .superRefine((pp, ctx) => {
    if (pp.endPort === undefined) return;
    if (isNamedPort(pp.port)) {
      ctx.addIssue({
        code: "custom",
        path: ["endPort"],
        message: "endPort needs a port number, not a port name",
      });
      return;
    }
    const start = Number(pp.port);
    if (start === 0)
      ctx.addIssue({ code: "custom", path: ["endPort"], message: "endPort needs a start port other than 0" });
    else if (pp.endPort < start || pp.endPort > 65535) {
      ctx.addIssue({
        code: "custom",
        path: ["endPort"],
        message: `endPort ${pp.endPort} must be between port ${start} and 65535`,
      });
    }
  });
export type PortProtocol = z.infer<typeof portProtocolSchema>;

export const dnsRuleSchema = z
  .strictObject({ matchName: dnsNameSchema.optional(), matchPattern: dnsPatternSchema.optional() })
  .refine((s) => (s.matchName === undefined) !== (s.matchPattern === undefined), {
    error: "set exactly one of matchName or matchPattern",
  });

export const l7RulesSchema = z.strictObject({
  dns: list(dnsRuleSchema, MAX_ITEMS.peers, "DNS rules").optional(),
});

const portRuleFields = { ports: list(portProtocolSchema, MAX_ITEMS.ports, "ports").optional() };

/** Ingress and deny rules carry no L7 rules. */
export const portRuleSchema = z.strictObject(portRuleFields);
export const egressPortRuleSchema = z.strictObject({ ...portRuleFields, rules: l7RulesSchema.optional() });
export type PortRule = z.infer<typeof egressPortRuleSchema>;

export const cidrRuleSchema = z
  .strictObject({ cidr: cidrSchema, except: list(cidrSchema, MAX_ITEMS.cidrs, "except CIDRs").optional() })
  .superRefine((rule, ctx) => {
    if (cidrProblem(rule.cidr)) return;
    for (const [index, except] of (rule.except ?? []).entries()) {
      if (cidrProblem(except)) continue;
      if (!cidrContains(rule.cidr, except)) {
        ctx.addIssue({
          code: "custom",
          path: ["except", index],
          message: `except ${except} is not inside cidr ${rule.cidr}`,
        });
      }
    }
  });
export type CidrRule = z.infer<typeof cidrRuleSchema>;

function checkDnsRulesOnlyWithPorts(rules: { toPorts?: PortRule[] }, ctx: z.RefinementCtx) {
  for (const [i, portRule] of (rules.toPorts ?? []).entries()) {
    if (!portRule.rules?.dns) continue;
    const ports = portRule.ports ?? [];
    if (ports.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["toPorts", i, "rules", "dns"],
        message: "DNS rules need the DNS port: add ports [{port: 53, protocol: ANY}]",
      });
    }
  }
}

const ingressFields = {
  fromEndpoints: list(labelSelectorSchema, MAX_ITEMS.peers, "endpoint selectors").optional(),
  fromCIDR: list(cidrSchema, MAX_ITEMS.cidrs, "CIDRs").optional(),
  fromCIDRSet: list(cidrRuleSchema, MAX_ITEMS.cidrs, "CIDR rules").optional(),
  fromEntities: list(entitySchema, MAX_ITEMS.peers, "entities").optional(),
};

export const ingressRuleSchema = z.strictObject({
  ...ingressFields,
  toPorts: list(portRuleSchema, MAX_ITEMS.ports, "port rules").optional(),
});
export const ingressDenyRuleSchema = ingressRuleSchema;
export type IngressRule = z.infer<typeof ingressRuleSchema>;

const egressFields = {
  toEndpoints: list(labelSelectorSchema, MAX_ITEMS.peers, "endpoint selectors").optional(),
  toCIDR: list(cidrSchema, MAX_ITEMS.cidrs, "CIDRs").optional(),
  toCIDRSet: list(cidrRuleSchema, MAX_ITEMS.cidrs, "CIDR rules").optional(),
  toEntities: list(entitySchema, MAX_ITEMS.peers, "entities").optional(),
};

export const egressRuleSchema = z
  .strictObject({
    ...egressFields,
    toPorts: list(egressPortRuleSchema, MAX_ITEMS.ports, "port rules").optional(),
    toFQDNs: list(fqdnSelectorSchema, MAX_ITEMS.peers, "FQDN selectors").optional(),
  })
  .superRefine((rule, ctx) => {
    checkDnsRulesOnlyWithPorts(rule, ctx);
    if (!rule.toFQDNs?.length) return;
    const otherL3 = (Object.keys(egressFields) as (keyof typeof egressFields)[]).filter(
      (k) => rule[k]?.length,
    );
    if (otherL3.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["toFQDNs"],
        message: `toFQDNs cannot be combined with ${otherL3.join(", ")} in one rule; write two rules`,
      });
    }
  });
export const egressDenyRuleSchema = z.strictObject({
  ...egressFields,
  toPorts: list(portRuleSchema, MAX_ITEMS.ports, "port rules").optional(),
});
export type EgressRule = z.infer<typeof egressRuleSchema>;
export type EgressDenyRule = z.infer<typeof egressDenyRuleSchema>;

/**
 * Cilium 1.15+ `enableDefaultDeny`: whether this policy puts the endpoints it selects into
 * default-deny for a direction. Unset, a direction is default-deny when the policy has rules for it;
 * `false` makes the policy's allow rules add nothing to an endpoint no other policy restricts
 * (its deny rules still deny); `true` enforces the direction even without rules for it.
 */
export const enableDefaultDenySchema = z.strictObject({
  ingress: z.boolean().optional(),
  egress: z.boolean().optional(),
});
export type EnableDefaultDeny = z.infer<typeof enableDefaultDenySchema>;

export const networkPolicySpecSchema = z.strictObject({
  description: z.string().max(1024).optional(),
  /** Meridian: a disabled policy is kept but not compiled into any node's state. */
  enabled: z.boolean().default(true),
  endpointSelector: labelSelectorSchema,
  enableDefaultDeny: enableDefaultDenySchema.optional(),
  ingress: list(ingressRuleSchema, MAX_ITEMS.rules, "ingress rules").optional(),
  ingressDeny: list(ingressDenyRuleSchema, MAX_ITEMS.rules, "ingressDeny rules").optional(),
  egress: list(egressRuleSchema, MAX_ITEMS.rules, "egress rules").optional(),
  egressDeny: list(egressDenyRuleSchema, MAX_ITEMS.rules, "egressDeny rules").optional(),
  ciliumSource: ciliumSourceSchema.optional(),
});
export type NetworkPolicySpec = z.infer<typeof networkPolicySpecSchema>;
export type NetworkPolicySpecInput = z.input<typeof networkPolicySpecSchema>;
