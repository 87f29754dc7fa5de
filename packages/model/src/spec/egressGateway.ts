// CiliumEgressGatewayPolicy `spec` plus Meridian's HA and BGP advertisement settings.
import { z } from "zod";
import { cidrProblem, cidrSchema, ipAddressSchema } from "./common";
import { cidrContains, parseCidr, parseIp } from "./ip";
import { type Labels, labelSelectorSchema, selectorMatches } from "./labels";
import { list, MAX_ITEMS, MAX_TEXT } from "./limits";

export const egressSelectorSchema = z.strictObject({
  podSelector: labelSelectorSchema.optional(),
  /** Matched against namespace labels; every namespace carries `kubernetes.io/metadata.name`. */
  namespaceSelector: labelSelectorSchema.optional(),
  /** Only pods on these source nodes are steered. */
  nodeSelector: labelSelectorSchema.optional(),
});

export const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** Node names are Kubernetes object names: DNS-1123 subdomains of at most 253 characters. */
export const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const NODE_NAME_SYNTAX =
  'a node name is lower-case letters, digits, "-" or ".", starting and ending with a letter or digit';

/** A Node object's name (DNS-1123 subdomain), bounded before any pattern runs on it. */
export const nodeNameSchema = z
  .string()
  .min(1, "a node name cannot be empty")
  .max(MAX_TEXT.name, "a node name is at most 253 characters")
  .regex(NODE_NAME, NODE_NAME_SYNTAX);

export const egressGatewaySchema = z
  .strictObject({
    nodeSelector: labelSelectorSchema.optional(),
    nodeName: nodeNameSchema.optional(),
    egressIP: ipAddressSchema.optional(),
    interface: z
      .string()
      .max(15, "interface names are 1 to 15 characters")
      .regex(INTERFACE_NAME, "interface names are 1 to 15 characters")
      .optional(),
  })
  .superRefine((gw, ctx) => {
    if ((gw.nodeSelector === undefined) === (gw.nodeName === undefined)) {
      ctx.addIssue({ code: "custom", message: "set exactly one of nodeSelector or nodeName" });
    }
    if (gw.egressIP !== undefined && gw.interface !== undefined) {
      ctx.addIssue({ code: "custom", path: ["interface"], message: "set egressIP or interface, not both" });
    }
  });
export type EgressGateway = z.infer<typeof egressGatewaySchema>;

/**
 * Gateways are probed every 100 ms and failed after 400 ms without an answer: failover well under
 * a second (the agents' own probes, node-agent features/egress/health.ts), at 10 small datagrams a
 * second per gateway and node.
 */
export const EGRESS_HA_DEFAULTS = {
  healthCheckIntervalMs: 100,
  healthCheckTimeoutMs: 400,
  maxActiveGateways: 1,
} as const;

export const egressHaSchema = z
  .strictObject({
    healthCheckIntervalMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(EGRESS_HA_DEFAULTS.healthCheckIntervalMs),
    healthCheckTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(300_000)
      .default(EGRESS_HA_DEFAULTS.healthCheckTimeoutMs),
    maxActiveGateways: z.number().int().min(1).max(64).default(EGRESS_HA_DEFAULTS.maxActiveGateways),
  })
  .refine((ha) => ha.healthCheckTimeoutMs >= ha.healthCheckIntervalMs, {
    path: ["healthCheckTimeoutMs"],
    error: "healthCheckTimeoutMs must be at least healthCheckIntervalMs, or a gateway flaps between checks",
  });

export const egressGatewayPolicySpecSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    selectors: list(egressSelectorSchema, MAX_ITEMS.small, "selectors").min(1, "add at least one selector"),
    destinationCIDRs: list(cidrSchema, MAX_ITEMS.cidrs, "destination CIDRs").min(
      1,
      "add at least one destination CIDR",
    ),
    excludedCIDRs: list(cidrSchema, MAX_ITEMS.cidrs, "excluded CIDRs").default([]),
    gateways: list(egressGatewaySchema, MAX_ITEMS.small, "gateways").min(1, "add at least one gateway"),
    ha: egressHaSchema.default({ ...EGRESS_HA_DEFAULTS }),
    advertiseEgressIP: z.boolean().default(false),
  })
  .superRefine((spec, ctx) => {
    const destinations = spec.destinationCIDRs.filter((c) => !cidrProblem(c));
    for (const [i, excluded] of spec.excludedCIDRs.entries()) {
      if (cidrProblem(excluded)) continue;
      if (!destinations.some((d) => cidrContains(d, excluded))) {
        ctx.addIssue({
          code: "custom",
          path: ["excludedCIDRs", i],
          message: `excluded CIDR ${excluded} is not inside any destination CIDR`,
        });
      }
    }
  });
export type EgressGatewayPolicySpec = z.infer<typeof egressGatewayPolicySpecSchema>;
export type EgressGatewayPolicySpecInput = z.input<typeof egressGatewayPolicySpecSchema>;

export interface GatewayNodeCandidate {
  name: string;
  labels: Labels;
  addresses: string[];
}

/** True when `ip` equals a node address or lies in the subnet of one of its interface addresses. */
export function nodeOwnsSubnetFor(node: GatewayNodeCandidate, ip: string): boolean {
  return node.addresses.some((address) => {
    const cidr = address.includes("/") ? parseCidr(address) : undefined;
    if (cidr) return cidrContains(cidr.text, ip);
    return parseIp(address)?.text === parseIp(ip)?.text;
  });
}

export interface EgressIpProblem {
  field: string;
  message: string;
}

/**
 * Egress IPs that none of their gateway nodes can source: the IP must be one of the node's addresses
 * or inside the subnet of one of them. Needs the node inventory, so the API runs it on write.
 */
export function egressIpProblems(
  spec: EgressGatewayPolicySpec,
  nodes: GatewayNodeCandidate[],
): EgressIpProblem[] {
  const problems: EgressIpProblem[] = [];
  for (const [i, gw] of spec.gateways.entries()) {
    if (!gw.egressIP) continue;
    const egressIP = gw.egressIP;
    const gatewayNodes = nodes.filter((n) =>
      gw.nodeName !== undefined ? n.name === gw.nodeName : selectorMatches(gw.nodeSelector ?? {}, n.labels),
    );
    if (gatewayNodes.length === 0) {
      problems.push({ field: `gateways[${i}]`, message: "no node matches this gateway" });
      continue;
    }
    const outside = gatewayNodes.filter((n) => !nodeOwnsSubnetFor(n, egressIP)).map((n) => n.name);
    if (outside.length > 0) {
      problems.push({
        field: `gateways[${i}].egressIP`,
        message: `egress IP ${egressIP} is not inside any address of gateway node(s) ${outside.join(", ")}`,
      });
    }
  }
  return problems;
}
