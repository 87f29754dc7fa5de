import {
  cidrSchema,
  INT32_MAX,
  interfaceAddressSchema,
  labelsSchema,
  list,
  MAX_ITEMS,
  objectNameSchema,
} from "@meridian/model";
import { z } from "zod";

export const joinStateSchema = z.enum(["pending", "joined", "revoked"]);

export const nodeOutput = z.object({
  id: z.string(),
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  addresses: z.array(z.string()),
  podCIDRs: z.array(z.string()),
  joinState: joinStateSchema,
  agentVersion: z.string().nullable(),
  appliedRevision: z.number().int().nullable(),
  lastHeartbeatAt: z.date().nullable(),
  lastStatus: z.unknown().nullable(),
  joinedAt: z.date().nullable(),
  version: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
  updatedBy: z.string(),
});

function onePerFamily(cidrs: string[], ctx: z.RefinementCtx) {
  const families = cidrs.map((c) => (c.includes(":") ? 6 : 4));
  if (new Set(families).size !== families.length) {
    ctx.addIssue({
      code: "custom",
      path: ["podCIDRs"],
      message: "at most one IPv4 and one IPv6 PodCIDR per node",
    });
  }
}

export const nodeCreateInput = z
  .object({
    name: objectNameSchema,
    labels: labelsSchema.default({}),
    addresses: list(interfaceAddressSchema, MAX_ITEMS.small, "addresses").default([]),
    podCIDRs: z.array(cidrSchema).max(2).default([]),
  })
  .superRefine((n, ctx) => onePerFamily(n.podCIDRs, ctx));

export const nodeUpdateInput = z
  .object({
    id: z.string().uuid(),
    version: z.number().int().min(1).max(INT32_MAX),
    labels: labelsSchema.optional(),
    addresses: list(interfaceAddressSchema, MAX_ITEMS.small, "addresses").optional(),
    podCIDRs: z.array(cidrSchema).max(2).optional(),
  })
  .superRefine((n, ctx) => n.podCIDRs && onePerFamily(n.podCIDRs, ctx));
