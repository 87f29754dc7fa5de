// BGP instances, peers and advertisements. Timer and community rules follow RFC 4271 / 1997 / 8092.
import { z } from "zod";
import { ciliumSourceSchema } from "./ciliumSource";
import {
  asnSchema,
  cidrSchema,
  ipAddressSchema,
  ipv4AddressSchema,
  objectNameSchema,
  portSchema,
} from "./common";
import { familyBits, parseCidr, parseIp } from "./ip";
import { labelSelectorSchema, labelsSchema } from "./labels";
import { list, MAX_ITEMS, MAX_TEXT } from "./limits";

export const bgpInstanceSpecSchema = z.strictObject({
  nodeSelector: labelSelectorSchema,
  localASN: asnSchema,
  /** Defaults on the node to its first IPv4 address. */
  routerID: ipv4AddressSchema.optional(),
  /** The CiliumBGPClusterConfig it was imported from (one config may hold several instances). */
  ciliumSource: ciliumSourceSchema.optional(),
});
export type BgpInstanceSpec = z.infer<typeof bgpInstanceSpecSchema>;

export const BGP_FAMILIES = ["ipv4-unicast", "ipv6-unicast", "vpnv4", "vpnv6"] as const;
export const bgpFamilySchema = z.enum(BGP_FAMILIES, {
  error: (issue) => `address family ${JSON.stringify(issue.input)} is not one of ${BGP_FAMILIES.join(", ")}`,
});
export type BgpFamily = z.infer<typeof bgpFamilySchema>;

export const gracefulRestartSchema = z.strictObject({
  enabled: z.boolean(),
  /** The restart time field in the capability is 12 bits wide. */
  restartTimeSeconds: z
    .number()
    .int()
    .min(1)
    .max(4095, "restartTimeSeconds must be at most 4095 (12-bit field)")
    .default(120),
});

export const IMPORT_ACTIONS = ["accept", "reject"] as const;
const importActionSchema = z.enum(IMPORT_ACTIONS, {
  error: (issue) => `action ${JSON.stringify(issue.input)} must be accept or reject`,
});

/**
 * One import rule, read like a prefix-list entry plus a route-map match: a route matches when it
 * is inside `prefix` with a length in ge..le, carries any of `communities` and travels in one of
 * `families` (each match absent: anything). Rules are tried in order; the first match decides.
 */
export const bgpImportRuleSchema = z.strictObject({
  prefix: cidrSchema.optional(),
  /** Shortest length matched. Default: the prefix's own length. */
  ge: z.number().int().min(0).max(128).optional(),
  /** Longest length matched. Default: the prefix's own length, or the family's maximum when ge is set. */
  le: z.number().int().min(0).max(128).optional(),
  /** Matches routes carrying any of these (ASN:NN or a well-known name). */
  communities: z
    .array(
      z
        .string()
        .max(64)
        .superRefine((v, ctx) => {
          const problem = communityProblem(v);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
    )
    .max(MAX_ITEMS.values, `at most ${MAX_ITEMS.values} communities`)
    .min(1, "list at least one community, or leave communities out")
    .optional(),
  families: list(bgpFamilySchema, MAX_ITEMS.small, "families")
    .min(1, "list at least one family, or leave families out")
    .optional(),
  action: importActionSchema,
  /** Sets LOCAL_PREF on accepted routes. */
  localPreference: z.number().int().min(0).max(4294967295).optional(),
});
export type BgpImportRule = z.infer<typeof bgpImportRuleSchema>;

function checkImportRule(rule: BgpImportRule, ctx: z.RefinementCtx, at: (string | number)[]): void {
  const cidr = rule.prefix ? parseCidr(rule.prefix) : undefined;
  if (!rule.prefix && (rule.ge !== undefined || rule.le !== undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [...at, rule.ge !== undefined ? "ge" : "le"],
      message: "ge and le need a prefix",
    });
  }
  if (cidr) {
    const max = familyBits(cidr.family);
    const len = cidr.prefixLength;
    if (rule.ge !== undefined && (rule.ge < len || rule.ge > max)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "ge"],
        message: `ge ${rule.ge} must be between the prefix length ${len} and ${max}`,
      });
    }
    if (rule.le !== undefined && (rule.le < len || rule.le > max)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "le"],
        message: `le ${rule.le} must be between the prefix length ${len} and ${max}`,
      });
    }
    if (rule.ge !== undefined && rule.le !== undefined && rule.le < rule.ge) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "le"],
        message: `le ${rule.le} is less than ge ${rule.ge}: the rule would match nothing`,
      });
    }
    const v4 = cidr.family === 4;
    if (rule.families && !rule.families.some((f) => f.includes(v4 ? "4" : "6"))) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "families"],
        message: `an IPv${cidr.family} prefix never matches routes of ${rule.families.join(", ")}`,
      });
    }
  }
  if (rule.localPreference !== undefined && rule.action !== "accept") {
    ctx.addIssue({
      code: "custom",
      path: [...at, "localPreference"],
      message: "localPreference only applies to accepted routes",
    });
  }
}

/**
 * What a peer's routes must pass to enter our Adj-RIB-In (the looking glass) and, with
 * `installRoutes`, the kernel. Like a route-map, a route that matches no rule gets `default`:
 * reject unless said otherwise.
 */
export const bgpImportPolicySchema = z
  .strictObject({
    rules: z.array(bgpImportRuleSchema).max(1000, "at most 1000 import rules").default([]),
    default: importActionSchema.default("reject"),
  })
  .superRefine((policy, ctx) => {
    policy.rules.forEach((rule, i) => {
      checkImportRule(rule, ctx, ["rules", i]);
    });
  });
export type BgpImportPolicy = z.infer<typeof bgpImportPolicySchema>;

const peerFields = {
  instance: z.string().max(MAX_TEXT.name).min(1, "name the BGP instance this peer belongs to"),
  address: ipAddressSchema,
  peerASN: asnSchema,
  port: portSchema.default(179),
  /** 0 disables keepalives; otherwise at least 3 seconds (RFC 4271 §4.2). */
  holdTimeSeconds: z
    .number()
    .int()
    .min(0, "hold time must be 0 or 3..65535 seconds")
    .max(65535, "hold time must be 0 or 3..65535 seconds")
    .refine((n) => n === 0 || (n >= 3 && n <= 65535), {
      error: (issue) => `hold time ${String(issue.input)} must be 0 or 3..65535 seconds`,
    })
    .default(90),
  /** Defaults to a third of the hold time. */
  keepaliveSeconds: z.number().int().min(0).max(21845).optional(),
  connectRetrySeconds: z.number().int().min(1).max(65535).default(120),
  /** TTL for eBGP sessions to non-adjacent peers; absent means directly connected (TTL 1). */
  ebgpMultihop: z
    .number()
    .int()
    .min(1, "ebgpMultihop TTL must be 1..255")
    .max(255, "ebgpMultihop TTL must be 1..255")
    .optional(),
  gracefulRestart: gracefulRestartSchema.optional(),
  families: z
    .array(bgpFamilySchema)
    .max(MAX_ITEMS.small, "at most 64 families")
    .min(1, "enable at least one address family")
    .refine((f) => new Set(f).size === f.length, "each address family may appear once")
    .default(["ipv4-unicast", "ipv6-unicast"]),
  /** Lets advertisements pick peers with a selector. */
  labels: labelsSchema.default({}),
  /**
   * Absent: every route the peer sends is kept for the looking glass, and nothing more happens to
   * it (the agent re-advertises nothing it learns and installs nothing without a policy).
   */
  importPolicy: bgpImportPolicySchema.optional(),
  /** Install the accepted IPv4/IPv6 unicast routes into the node's kernel; needs an importPolicy. */
  installRoutes: z.boolean().default(false),
  /**
   * The CiliumBGPPeerConfig its settings were imported from: peers that shared one are exported
   * sharing it again, while their settings still agree.
   */
  ciliumPeerConfig: objectNameSchema.optional(),
  /**
   * That peer config's advertisement selectors, per family: an advertisement imported later, on its
   * own, binds to the peers whose config selects its labels, as in Cilium.
   */
  ciliumAdvertisementSelectors: list(
    z.strictObject({ family: bgpFamilySchema, selector: labelSelectorSchema.optional() }),
    BGP_FAMILIES.length * 2,
    "advertisement selectors",
  ).optional(),
};

/** RFC 8212: without a policy saying which routes may enter the kernel, none may. */
function checkInstall(
  peer: { installRoutes: boolean; importPolicy?: BgpImportPolicy },
  ctx: z.RefinementCtx,
) {
  if (peer.installRoutes && !peer.importPolicy) {
    ctx.addIssue({
      code: "custom",
      path: ["importPolicy"],
      message: "installRoutes needs an importPolicy that says which routes may enter the kernel",
    });
  }
}

function checkTimers(peer: { holdTimeSeconds: number; keepaliveSeconds?: number }, ctx: z.RefinementCtx) {
  const { holdTimeSeconds: hold, keepaliveSeconds: keepalive } = peer;
  if (keepalive === undefined) return;
  if (hold === 0 && keepalive !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["keepaliveSeconds"],
      message: "with hold time 0 keepalive must be 0",
    });
  } else if (hold !== 0 && (keepalive >= hold || keepalive === 0)) {
    ctx.addIssue({
      code: "custom",
      path: ["keepaliveSeconds"],
      message: `keepalive ${keepalive}s must be at least 1s and less than the hold time ${hold}s (usually a third)`,
    });
  }
}

/** What the API accepts: the MD5 password is write-only and never read back. */
export const bgpPeerSpecSchema = z
  .strictObject({
    ...peerFields,
    password: z.string().min(1).max(80, "TCP MD5 keys are at most 80 characters").optional(),
  })
  .superRefine(checkTimers)
  .superRefine(checkInstall);
export type BgpPeerSpec = z.infer<typeof bgpPeerSpecSchema>;
export type BgpPeerSpecInput = z.input<typeof bgpPeerSpecSchema>;

/** What the API returns: whether a password is set, never the password. */
export const bgpPeerPublicSpecSchema = z.strictObject({ ...peerFields, hasPassword: z.boolean() });
export type BgpPeerPublicSpec = z.infer<typeof bgpPeerPublicSpecSchema>;

export function effectiveKeepalive(peer: { holdTimeSeconds: number; keepaliveSeconds?: number }): number {
  return peer.keepaliveSeconds ?? Math.floor(peer.holdTimeSeconds / 3);
}

/** RFC 1997 / 3765 / 7999 / 8326 names, with their 32-bit values. */
export const WELL_KNOWN_COMMUNITIES: Record<string, number> = {
  "no-export": 0xffffff01,
  "no-advertise": 0xffffff02,
  "no-export-subconfed": 0xffffff03,
  "local-as": 0xffffff03,
  "no-peer": 0xffffff04,
  blackhole: 0xffff029a,
  "graceful-shutdown": 0xffff0000,
};

export function communityProblem(text: string): string | undefined {
  if (Object.hasOwn(WELL_KNOWN_COMMUNITIES, text)) return undefined;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) {
    return `community "${text}" must be ASN:NN with both parts 0..65535 (e.g. 65000:100) or one of ${Object.keys(WELL_KNOWN_COMMUNITIES).join(", ")}`;
  }
  return undefined;
}

export function largeCommunityProblem(text: string): string | undefined {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!m || m.slice(1).some((part) => Number(part) > 4294967295)) {
    return `large community "${text}" must be a:b:c with each part 0..4294967295 (e.g. 65000:1:100)`;
  }
  return undefined;
}

const communitySchema = z
  .string()
  .max(64)
  .superRefine((v, ctx) => {
    const problem = communityProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
const largeCommunitySchema = z
  .string()
  .max(64)
  .superRefine((v, ctx) => {
    const problem = largeCommunityProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const advertisementFields = {
  communities: list(communitySchema, MAX_ITEMS.values, "communities").default([]),
  largeCommunities: list(largeCommunitySchema, MAX_ITEMS.values, "large communities").default([]),
  localPreference: z.number().int().min(0).max(4294967295).optional(),
  /** Peers by name; with neither peers nor peerSelector the advertisement goes to every peer of the node. */
  peers: list(z.string().min(1).max(MAX_TEXT.name), MAX_ITEMS.peers, "peers").optional(),
  peerSelector: labelSelectorSchema.optional(),
  /** The CiliumBGPAdvertisement it was imported from (one document may list several). */
  ciliumSource: ciliumSourceSchema.optional(),
};

export const SERVICE_ADDRESS_TYPES = ["LoadBalancerIP", "ClusterIP", "ExternalIP"] as const;

export const bgpAdvertisementSpecSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("PodCIDR"), ...advertisementFields }),
  z.strictObject({
    type: z.literal("Service"),
    ...advertisementFields,
    service: z.strictObject({
      /** Services to advertise; absent, none (Cilium's meaning), `{}` every service. */
      selector: labelSelectorSchema.optional(),
      addresses: list(z.enum(SERVICE_ADDRESS_TYPES), MAX_ITEMS.small, "address types").min(
        1,
        "pick at least one service address type",
      ),
      /** Advertise the smallest set of covering prefixes instead of one host route per VIP. */
      aggregate: z.boolean().default(false),
    }),
  }),
  z.strictObject({ type: z.literal("EgressIP"), ...advertisementFields }),
  z.strictObject({
    type: z.literal("VRFRoutes"),
    ...advertisementFields,
    vrfs: list(z.string().min(1).max(MAX_TEXT.name), MAX_ITEMS.small, "VRFs").min(1, "name at least one VRF"),
  }),
]);
export type BgpAdvertisementSpec = z.infer<typeof bgpAdvertisementSpecSchema>;
export type BgpAdvertisementSpecInput = z.input<typeof bgpAdvertisementSpecSchema>;

// ---- A node's BGP instances share one listener ----------------------------------------------
// The agent runs one TCP listener on :179 for every instance on the node and hands an incoming
// connection to the instance whose peer has the connection's source address. Two instances on
// one node with the same peer address could not be told apart, so the API refuses it when a peer
// is written and the compiler leaves the later peer out (with a problem) if labels or selectors
// change later.

/** A peer as the address check sees it. */
export interface PeerAddressEntry {
  name: string;
  instance: string;
  address: string;
}

/** "2001:DB8::1" and "2001:db8:0::1" are one peer. */
export function peerAddressKey(address: string): string {
  return parseIp(address)?.text ?? address.toLowerCase();
}

/**
 * The first of `others` (another peer of the same instance, or of an instance that
 * `sharesNode` says also runs on some node with `peer`'s) that has `peer`'s address.
 */
export function peerAddressConflict(
  peer: PeerAddressEntry,
  others: PeerAddressEntry[],
  sharesNode: (instanceA: string, instanceB: string) => boolean,
): PeerAddressEntry | undefined {
  const key = peerAddressKey(peer.address);
  return others.find(
    (o) =>
      o.name !== peer.name &&
      peerAddressKey(o.address) === key &&
      (o.instance === peer.instance || sharesNode(peer.instance, o.instance)),
  );
}

/** The words for `spec.address`: which peer of which instance has the address, and where. */
export function peerAddressConflictMessage(address: string, other: PeerAddressEntry, node?: string): string {
  const where = node ? ` on node ${node}` : "";
  return `${address} is already the address of BGP peer ${other.name} of instance ${other.instance}${where}: one node's BGP instances share one listener on port 179 and tell sessions apart by peer address, so a peer address may appear once per node`;
}
