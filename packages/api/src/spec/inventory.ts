// Nodes and endpoints as the inventory (CNI + Kubernetes) reports them.
import { z } from "zod";
import { cidrProblem, cidrSchema, ipv4AddressSchema, ipv6AddressSchema, objectNameSchema } from "./common";
import { cidrOverlaps, parseCidr, parseIp } from "./ip";
import { labelsSchema } from "./labels";
import { list, MAX_ITEMS, MAX_TEXT } from "./limits";

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

export const endpointSpecSchema = z.strictObject({
  node: objectNameSchema,
  namespace: objectNameSchema,
  name: objectNameSchema,
  labels: labelsSchema.default({}),
  ipv4: ipv4AddressSchema.optional(),
  ipv6: ipv6AddressSchema.optional(),
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
