// SRv6 L3VPN objects: locator pools carved per node, VRFs with their SIDs, static SR policies.
import { z } from "zod";
import {
  cidrProblem,
  ipv6AddressSchema,
  ipv6CidrSchema,
  routeDistinguisherSchema,
  routeTargetSchema,
} from "./common";
import { nodeNameSchema } from "./egressGateway";
import { cidrOverlaps, parseCidr, parseIp } from "./ip";
import { labelSelectorSchema } from "./labels";
import { list, MAX_ITEMS, MAX_TEXT } from "./limits";

const bitLength = z.number().int().min(0).max(128);

export const sidStructureSchema = z.strictObject({
  locatorBlockLength: bitLength,
  locatorNodeLength: bitLength,
  functionLength: bitLength.min(1, "functionLength must be at least 1 bit so every VRF gets a SID"),
  argumentLength: bitLength.default(0),
});

export const srv6LocatorPoolSpecSchema = z
  .strictObject({
    prefix: ipv6CidrSchema,
    /** Length of each node's locator carved from the prefix. */
    locatorLength: z.number().int().min(1).max(128),
    structure: sidStructureSchema,
    /** Nodes that get a locator from this pool; absent means every node. */
    nodeSelector: labelSelectorSchema.optional(),
  })
  .superRefine((pool, ctx) => {
    const s = pool.structure;
    if (s.locatorBlockLength + s.locatorNodeLength !== pool.locatorLength) {
      ctx.addIssue({
        code: "custom",
        path: ["structure"],
        message: `locatorBlockLength ${s.locatorBlockLength} + locatorNodeLength ${s.locatorNodeLength} must equal locatorLength ${pool.locatorLength}`,
      });
    }
    const total = s.locatorBlockLength + s.locatorNodeLength + s.functionLength + s.argumentLength;
    if (total > 128) {
      ctx.addIssue({
        code: "custom",
        path: ["structure", "functionLength"],
        message: `functionLength ${s.functionLength} does not fit after the /${pool.locatorLength} locator: block + node + function + argument = ${total} bits, more than the 128 bits of an IPv6 SID`,
      });
    }
    if (cidrProblem(pool.prefix, 6)) return;
    const prefixLength = parseCidr(pool.prefix)!.prefixLength;
    // The block is what every node's locator shares; bits past the pool prefix differ per node.
    if (s.locatorBlockLength > prefixLength) {
      ctx.addIssue({
        code: "custom",
        path: ["structure", "locatorBlockLength"],
        message: `locatorBlockLength ${s.locatorBlockLength} is longer than the pool prefix /${prefixLength}: nodes' locators would differ inside the block`,
      });
    }
    if (prefixLength >= pool.locatorLength) {
      ctx.addIssue({
        code: "custom",
        path: ["locatorLength"],
        message: `locatorLength ${pool.locatorLength} must be longer than the pool prefix /${prefixLength} to leave room for nodes`,
      });
    }
  });
export type Srv6LocatorPoolSpec = z.infer<typeof srv6LocatorPoolSpecSchema>;
export type Srv6LocatorPoolSpecInput = z.input<typeof srv6LocatorPoolSpecSchema>;

export const SRV6_BEHAVIORS = ["End.DT4", "End.DT6", "End.DT46"] as const;
export const SRV6_ENCAP_MODES = ["HEncaps", "HEncapsRed"] as const;

const vrfIdRange = {
  error: (issue: { input?: unknown }) => `vrfID ${String(issue.input)} must be 1..4294967294`,
};

/** A SID an operator fixes for a VRF on one node (say, one a remote PE is configured with). */
export const srv6StaticSidSchema = z.strictObject({
  node: nodeNameSchema,
  sid: ipv6AddressSchema,
});
export type Srv6StaticSid = z.infer<typeof srv6StaticSidSchema>;

export const srv6VrfSpecSchema = z.strictObject({
  vrfID: z.number().int(vrfIdRange).min(1, vrfIdRange).max(4294967294, vrfIdRange),
  locatorPool: z.string().max(MAX_TEXT.name).min(1, "name the locator pool this VRF's SIDs come from"),
  routeDistinguisher: routeDistinguisherSchema.optional(),
  importRouteTargets: list(routeTargetSchema, MAX_ITEMS.small, "route targets").default([]),
  exportRouteTargets: list(routeTargetSchema, MAX_ITEMS.small, "route targets").default([]),
  /** Pods in the VRF, by pod labels. */
  memberSelector: labelSelectorSchema,
  behavior: z.enum(SRV6_BEHAVIORS).default("End.DT46"),
  encapMode: z.enum(SRV6_ENCAP_MODES).default("HEncaps"),
  /**
   * SIDs fixed per node instead of allocated; each must lie inside that node's locator of the
   * pool (checked on write against the pool and the node's stored locator).
   */
  staticSids: list(srv6StaticSidSchema, MAX_ITEMS.small, "static SIDs")
    .superRefine((sids, ctx) => {
      const seen = new Map<string, number>();
      sids.forEach((s, i) => {
        const first = seen.get(s.node);
        if (first !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [i, "node"],
            message: `node ${s.node} already has a static SID in this VRF (staticSids.${first})`,
          });
        else seen.set(s.node, i);
      });
    })
    .optional(),
});
export type Srv6VrfSpec = z.infer<typeof srv6VrfSpecSchema>;
export type Srv6VrfSpecInput = z.input<typeof srv6VrfSpecSchema>;

/**
 * Longest segment list the node datapath (bpf/ SRv6 encapsulation) writes into one SRH.
 * The datapath imports this constant; a longer list is refused here, before it reaches a node.
 */
export const SRV6_MAX_SEGMENTS = 4;

export const srv6PolicySpecSchema = z.strictObject({
  vrf: z.string().max(MAX_TEXT.name).min(1, "name the VRF this policy steers"),
  destination: z
    .string()
    .max(MAX_TEXT.address)
    .superRefine((v, ctx) => {
      const problem = cidrProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  segments: z
    .array(ipv6AddressSchema)
    .min(1, "give at least one SID")
    .max(SRV6_MAX_SEGMENTS, `at most ${SRV6_MAX_SEGMENTS} SIDs in a segment list (the datapath limit)`),
});
export type Srv6PolicySpec = z.infer<typeof srv6PolicySpecSchema>;

export interface NamedSpec<T> {
  name: string;
  spec: T;
}

/** Where a SID sits in a pool: its node locator's slot, function and argument bits; or why it cannot. */
export function sidInPool(
  spec: Srv6LocatorPoolSpec,
  sid: string,
): { slot: bigint; function: bigint; argument: bigint } | { problem: string } {
  const prefix = parseCidr(spec.prefix);
  const ip = parseIp(sid);
  if (!prefix || !ip || ip.family !== 6) return { problem: `${sid} is not an IPv6 address` };
  const hostBits = 128n - BigInt(prefix.prefixLength);
  if (ip.value >> hostBits !== prefix.network >> hostBits)
    return { problem: `SID ${ip.text} is outside the pool prefix ${spec.prefix}` };
  const s = spec.structure;
  const functionShift = BigInt(128 - spec.locatorLength - s.functionLength);
  const argumentShift = BigInt(128 - spec.locatorLength - s.functionLength - s.argumentLength);
  const mask = (bits: number) => (1n << BigInt(bits)) - 1n;
  const slot =
    (ip.value >> BigInt(128 - spec.locatorLength)) & mask(spec.locatorLength - prefix.prefixLength);
  const fn = (ip.value >> functionShift) & mask(s.functionLength);
  const argument = (ip.value >> argumentShift) & mask(s.argumentLength);
  if (ip.value & mask(Number(argumentShift)))
    return { problem: `SID ${ip.text} has bits set past its function and argument fields` };
  if (fn === 0n)
    return { problem: `SID ${ip.text} has function 0, the locator's own address; give it a function` };
  return { slot, function: fn, argument };
}

/** Pairs of locator pools whose prefixes overlap; SIDs from them could collide. */
export function findLocatorPoolOverlaps(
  pools: NamedSpec<Pick<Srv6LocatorPoolSpec, "prefix">>[],
): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      const a = pools[i]!;
      const b = pools[j]!;
      if (
        !cidrProblem(a.spec.prefix, 6) &&
        !cidrProblem(b.spec.prefix, 6) &&
        cidrOverlaps(a.spec.prefix, b.spec.prefix)
      ) {
        out.push([a.name, b.name]);
      }
    }
  }
  return out;
}

/** VRF IDs used by more than one VRF, with the VRF names that share them. */
export function findDuplicateVrfIds(vrfs: NamedSpec<Pick<Srv6VrfSpec, "vrfID">>[]): Map<number, string[]> {
  const byId = new Map<number, string[]>();
  for (const vrf of vrfs) byId.set(vrf.spec.vrfID, [...(byId.get(vrf.spec.vrfID) ?? []), vrf.name]);
  return new Map([...byId].filter(([, names]) => names.length > 1));
}
