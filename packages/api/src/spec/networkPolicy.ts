// CiliumNetworkPolicy `spec`, as far as Meridian enforces it. Strict objects: a misspelt field
// ("fromCidr") is an error that names it, rather than a rule that silently allows nothing.
import { z } from "zod";
import { cidrProblem, cidrSchema, dnsNameSchema, dnsPatternSchema, fqdnSelectorSchema } from "./common";
import { cidrContains } from "./ip";
import { labelSelectorSchema } from "./labels";

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

/** Port as Cilium writes it: a number or a numeric string; 0 means every port. Named ports are not resolved. */
export const policyPortSchema = z.union([z.number(), z.string()]).superRefine((raw, ctx) => {
  const text = String(raw);
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) {
    ctx.addIssue({
      code: "custom",
      message: /^[a-z]/i.test(text)
        ? `named port "${text}" is not supported; give the port number`
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
    endPort: z.number().int().optional(),
    protocol: protocolSchema.optional(),
  })
  .superRefine((pp, ctx) => {
    if (pp.endPort === undefined) return;
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

export const l7RulesSchema = z.strictObject({ dns: z.array(dnsRuleSchema).optional() });

const portRuleFields = { ports: z.array(portProtocolSchema).optional() };

/** Ingress and deny rules carry no L7 rules. */
export const portRuleSchema = z.strictObject(portRuleFields);
export const egressPortRuleSchema = z.strictObject({ ...portRuleFields, rules: l7RulesSchema.optional() });
export type PortRule = z.infer<typeof egressPortRuleSchema>;

export const cidrRuleSchema = z
  .strictObject({ cidr: cidrSchema, except: z.array(cidrSchema).optional() })
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
  fromEndpoints: z.array(labelSelectorSchema).optional(),
  fromCIDR: z.array(cidrSchema).optional(),
  fromCIDRSet: z.array(cidrRuleSchema).optional(),
  fromEntities: z.array(entitySchema).optional(),
};

export const ingressRuleSchema = z.strictObject({
  ...ingressFields,
  toPorts: z.array(portRuleSchema).optional(),
});
export const ingressDenyRuleSchema = ingressRuleSchema;
export type IngressRule = z.infer<typeof ingressRuleSchema>;

const egressFields = {
  toEndpoints: z.array(labelSelectorSchema).optional(),
  toCIDR: z.array(cidrSchema).optional(),
  toCIDRSet: z.array(cidrRuleSchema).optional(),
  toEntities: z.array(entitySchema).optional(),
};

export const egressRuleSchema = z
  .strictObject({
    ...egressFields,
    toPorts: z.array(egressPortRuleSchema).optional(),
    toFQDNs: z.array(fqdnSelectorSchema).optional(),
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
  toPorts: z.array(portRuleSchema).optional(),
});
export type EgressRule = z.infer<typeof egressRuleSchema>;
export type EgressDenyRule = z.infer<typeof egressDenyRuleSchema>;

export const networkPolicySpecSchema = z.strictObject({
  description: z.string().max(1024).optional(),
  /** Meridian: a disabled policy is kept but not compiled into any node's state. */
  enabled: z.boolean().default(true),
  endpointSelector: labelSelectorSchema,
  ingress: z.array(ingressRuleSchema).optional(),
  ingressDeny: z.array(ingressDenyRuleSchema).optional(),
  egress: z.array(egressRuleSchema).optional(),
  egressDeny: z.array(egressDenyRuleSchema).optional(),
});
export type NetworkPolicySpec = z.infer<typeof networkPolicySpecSchema>;
export type NetworkPolicySpecInput = z.input<typeof networkPolicySpecSchema>;
