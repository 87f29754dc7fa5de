// The BGP looking glass: what agents report about each peer's routes (agent.reportBgpRoutes) and
// what the console reads back (bgp.lookingGlass). Agents push a bounded snapshot: per peer,
// direction and family the table's total and its first LOOKING_GLASS_ROUTE_LIMIT routes sorted by
// prefix; the agent's CLI (`meridian-agent bgp routes …`) has the rest.
import { z } from "zod";
import { bgpFamilySchema } from "../spec/bgp";
import { ipAddressSchema, MAX_ASN, objectNameSchema } from "../spec/common";
import { INT32_MAX, MAX_TEXT, queryInt } from "../spec/limits";

/** Routes per (peer, direction, family) an agent sends; bigger tables send their first ones. */
export const LOOKING_GLASS_ROUTE_LIMIT = 1000;
/** Peers per report: an agent sends one peer per call, so this only bounds the request size. */
export const LOOKING_GLASS_PEERS_PER_REPORT = 4;

export const LOOKING_GLASS_DIRECTIONS = ["received", "advertised"] as const;
export const lookingGlassDirectionSchema = z.enum(LOOKING_GLASS_DIRECTIONS, {
  error: (issue) => `direction ${JSON.stringify(issue.input)} must be received or advertised`,
});
export type LookingGlassDirection = z.infer<typeof lookingGlassDirectionSchema>;

export const BGP_ORIGINS = ["igp", "egp", "incomplete"] as const;

const uint32 = z.number().int().min(0).max(MAX_ASN);
const text = (max: number) => z.string().min(1).max(max);

/** One route as the peer sent it (received) or as we sent it (advertised), attributes and all. */
export const lookingGlassRouteSchema = z.object({
  /** "10.1.0.0/24", "2001:db8::/48". */
  prefix: text(64),
  /** VPN routes: route distinguisher ("65000:1", "192.0.2.1:7"). */
  rd: text(64).optional(),
  /** MPLS labels (VPN routes; with SRv6, the transposed SID function bits). */
  labels: z.array(z.number().int().min(0).max(0xfffff)).max(16).optional(),
  nextHops: z.array(text(64)).max(8),
  origin: z.enum(BGP_ORIGINS).optional(),
  /** AS_PATH flattened, nearest AS first. */
  asPath: z.array(uint32).max(1024),
  med: uint32.optional(),
  localPref: uint32.optional(),
  /** "65000:100" or well-known names ("no-export"). */
  communities: z.array(text(32)).max(1024),
  /** "65000:1:2". */
  largeCommunities: z.array(text(48)).max(1024),
  /** "rt:65000:1", "soo:…", or raw hex. */
  extendedCommunities: z.array(text(64)).max(1024),
  /** SRv6 service SID (RFC 9252) with the function bits put back. */
  sid: text(64).optional(),
  /** Kept while the peer restarts gracefully (RFC 4724); withdrawn unless refreshed. */
  stale: z.boolean().default(false),
  /** Advertised routes: why we send it (advertisement name, egress policy, VRF…). */
  reason: text(500).optional(),
});
export type LookingGlassRoute = z.infer<typeof lookingGlassRouteSchema>;

export const lookingGlassTableSchema = z
  .object({
    direction: lookingGlassDirectionSchema,
    family: bgpFamilySchema,
    /** Every route of the table on the agent; `routes` holds the first ones by prefix. */
    total: z.number().int().min(0).max(INT32_MAX),
    routes: z
      .array(lookingGlassRouteSchema)
      .max(
        LOOKING_GLASS_ROUTE_LIMIT,
        `at most ${LOOKING_GLASS_ROUTE_LIMIT} routes per table: send the first ${LOOKING_GLASS_ROUTE_LIMIT} by prefix and the total`,
      ),
  })
  .refine((t) => t.routes.length <= t.total, {
    path: ["total"],
    error: "total must count at least the routes sent",
  });
export type LookingGlassTable = z.infer<typeof lookingGlassTableSchema>;

export const lookingGlassPeerSchema = z
  .object({
    /** The peer's name as in the desired state. */
    peer: objectNameSchema,
    address: ipAddressSchema,
    tables: z.array(lookingGlassTableSchema).max(8, "at most 8 tables per peer (2 directions × 4 families)"),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    for (const [i, t] of p.tables.entries()) {
      const k = `${t.direction} ${t.family}`;
      if (seen.has(k)) ctx.addIssue({ code: "custom", path: ["tables", i], message: `${k} is listed twice` });
      seen.add(k);
    }
  });
export type LookingGlassPeer = z.infer<typeof lookingGlassPeerSchema>;

export const reportBgpRoutesInput = z
  .object({
    nodeName: z.string().max(MAX_TEXT.name).optional(),
    peers: z
      .array(lookingGlassPeerSchema)
      .max(
        LOOKING_GLASS_PEERS_PER_REPORT,
        `at most ${LOOKING_GLASS_PEERS_PER_REPORT} peers per report: send the others in further reports`,
      ),
    /**
     * Every peer this node runs now. The looking glass of any other peer of the node is deleted, so
     * a removed peer does not linger with old routes. Absent: keep the others as they are.
     */
    configuredPeers: z.array(objectNameSchema).max(1000).optional(),
  })
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    for (const [i, p] of r.peers.entries()) {
      if (seen.has(p.peer))
        ctx.addIssue({
          code: "custom",
          path: ["peers", i, "peer"],
          message: `peer ${p.peer} is listed twice`,
        });
      seen.add(p.peer);
    }
  });
export type ReportBgpRoutesInput = z.input<typeof reportBgpRoutesInput>;

export const lookingGlassInput = z.object({
  node: objectNameSchema,
  /** Peer name (or address). */
  peer: z.string().min(1).max(253),
  direction: lookingGlassDirectionSchema.default("received"),
  /** Absent: the first family the agent reported for this direction. */
  family: bgpFamilySchema.optional(),
  /** Routes whose prefix (or RD) contains this text, e.g. "10.1." or "/32". */
  prefix: z.string().max(64).optional(),
  /** Offset into the matching routes, from `nextCursor`. */
  cursor: queryInt(0, INT32_MAX).default(0),
  limit: queryInt(1, LOOKING_GLASS_ROUTE_LIMIT).default(100),
});

export const lookingGlassOutput = z.object({
  node: z.string(),
  peer: z.string(),
  address: z.string(),
  direction: lookingGlassDirectionSchema,
  /** Null when the agent reported no table for this direction yet. */
  family: bgpFamilySchema.nullable(),
  /** Tables the agent reported for this peer, with their totals (for the family selector). */
  tables: z.array(
    z.object({
      direction: lookingGlassDirectionSchema,
      family: bgpFamilySchema,
      total: z.number().int(),
      reported: z.number().int(),
    }),
  ),
  /** Routes in the table on the agent. */
  total: z.number().int(),
  /** Routes the agent sent for this table (at most LOOKING_GLASS_ROUTE_LIMIT). */
  reported: z.number().int(),
  /** Reported routes that match the prefix filter. */
  matched: z.number().int(),
  routes: z.array(lookingGlassRouteSchema),
  nextCursor: z.number().int().nullable(),
  /** When the agent sent this snapshot. */
  reportedAt: z.date(),
});
export type LookingGlassOutput = z.infer<typeof lookingGlassOutput>;
