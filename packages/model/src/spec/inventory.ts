// Nodes and endpoints as the inventory (CNI + Kubernetes) reports them.
import { z } from "zod";
import { cidrProblem, cidrSchema, ipv4AddressSchema, ipv6AddressSchema, objectNameSchema } from "./common";
import { cidrOverlaps, parseCidr, parseIp } from "./ip";
import { labelsSchema } from "./labels";
import { list, MAX_ITEMS, MAX_TEXT } from "./limits";
import { NAMED_PORT } from "./networkPolicy";

/** A node address: a bare IP, or an interface address with its prefix length (host bits expected). */
export const interfaceAddressSchema = z
  .string()
  .max(MAX_TEXT.address, `at most ${MAX_TEXT.address} characters`)
  .superRefine((text, ctx) => {
    const ok = text.includes("/") ? parseCidr(text) !== undefined : parseIp(text) !== undefined;
    if (!ok)
      ctx.addIssue({ code: "custom", message: `"${text}" is not an IP address or address/prefix-length` });
  });

export const nodeSpecSchema = z
  .strictObject({
    name: objectNameSchema,
    labels: labelsSchema.default({}),
    addresses: list(interfaceAddressSchema, MAX_ITEMS.small, "addresses").default([]),
    podCIDRs: z.array(cidrSchema).max(2).default([]),
  })
  .superRefine((node, ctx) => {
    const valid = node.podCIDRs.filter((c) => !cidrProblem(c));
    const families = valid.map((c) => parseCidr(c)?.family);
    if (new Set(families).size !== families.length) {
      ctx.addIssue({
        code: "custom",
        path: ["podCIDRs"],
        message: "at most one IPv4 and one IPv6 PodCIDR per node",
      });
    }
  });
export type NodeSpec = z.infer<typeof nodeSpecSchema>;

/** A named container port, as a Kubernetes pod declares it (`ports[].name`, `containerPort`, `protocol`). */
export const endpointPortSchema = z.strictObject({
  name: z
    .string()
    .max(15, "port name: at most 15 characters")
    .refine((n) => NAMED_PORT.test(n), {
      error: (i) =>
        `port name ${JSON.stringify(String(i.input).slice(0, 20))} is not a container port name: 1 to 15 letters, digits and single inner dashes, with at least one letter`,
    }),
  port: z.number().int().min(1, "port must be 1..65535").max(65535, "port must be 1..65535"),
  protocol: z.enum(["TCP", "UDP", "SCTP"], { error: "protocol must be TCP, UDP or SCTP" }).default("TCP"),
});
export type EndpointPort = z.infer<typeof endpointPortSchema>;

/** An endpoint's named ports: each name once, as Kubernetes requires within a pod. */
export const endpointPortsSchema = list(endpointPortSchema, MAX_ITEMS.small, "ports")
  .default([])
  .superRefine((ports, ctx) => {
    const seen = new Set<string>();
    ports.forEach((p, i) => {
      if (seen.has(p.name))
        ctx.addIssue({ code: "custom", path: [i, "name"], message: `port name ${p.name} is given twice` });
      seen.add(p.name);
    });
  });

export const endpointSpecSchema = z.strictObject({
  node: objectNameSchema,
  namespace: objectNameSchema,
  name: objectNameSchema,
  labels: labelsSchema.default({}),
  ipv4: ipv4AddressSchema.optional(),
  ipv6: ipv6AddressSchema.optional(),
  ports: endpointPortsSchema,
});
export type EndpointSpec = z.infer<typeof endpointSpecSchema>;

export interface PodCidrOverlap {
  nodeA: string;
  cidrA: string;
  nodeB: string;
  cidrB: string;
}

/** Every pair of nodes whose PodCIDRs overlap; the API refuses a node that would add one. */
export function findPodCidrOverlaps(nodes: Pick<NodeSpec, "name" | "podCIDRs">[]): PodCidrOverlap[] {
  const all = nodes.flatMap((n) =>
    n.podCIDRs.filter((c) => !cidrProblem(c)).map((cidr) => ({ node: n.name, cidr })),
  );
  const overlaps: PodCidrOverlap[] = [];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i]!;
      const b = all[j]!;
      if (cidrOverlaps(a.cidr, b.cidr))
        overlaps.push({ nodeA: a.node, cidrA: a.cidr, nodeB: b.node, cidrB: b.cidr });
    }
  }
  return overlaps;
}
