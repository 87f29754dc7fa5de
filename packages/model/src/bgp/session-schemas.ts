// BGP sessions as an agent reports them: the `detail` of its `bgp` component
// (agent.reportStatus). One schema for the three that touch it: the agent builds its report to it
// (apps/node-agent/src/features/bgp/status.ts), the API refuses a report that does not fit it
// (agent/status-schemas.ts), and the console reads the stored detail with it
// (apps/web/src/lib/bgp-status.ts). A field added later is optional, so older agents still fit.
import { z } from "zod";
import { INT32_MAX, MAX_COUNTER, MAX_ITEMS, MAX_TEXT } from "../spec/limits";

/** RFC 4271 FSM states, and NotStarted: the agent could not configure the session. */
export const BGP_SESSION_STATES = [
  "Idle",
  "Connect",
  "Active",
  "OpenSent",
  "OpenConfirm",
  "Established",
  "NotStarted",
] as const;
export const bgpSessionStateSchema = z.enum(BGP_SESSION_STATES);
export type BgpSessionState = z.infer<typeof bgpSessionStateSchema>;

/** Peers one node reports: its instances' peers together. */
export const MAX_REPORTED_PEERS = 1024;

const count = z.number().int().min(0).max(MAX_COUNTER);
const seconds = z.number().int().min(0).max(INT32_MAX);
const text = (max: number = MAX_TEXT.name) => z.string().max(max);
const texts = (max: number = MAX_ITEMS.small) => z.array(text()).max(max);
const problems = z.array(text(MAX_TEXT.description)).max(256);

export const bgpFamilyPrefixesSchema = z.strictObject({
  received: count,
  accepted: count,
  advertised: count,
});

/** The last error of a session, in words and as the NOTIFICATION's code/subcode. */
export const bgpSessionErrorSchema = z.strictObject({
  /** "received: OPEN Message Error / Bad Peer AS" */
  words: text(MAX_TEXT.message),
  direction: z.enum(["sent", "received", "local"]),
  code: z.number().int().min(0).max(255).optional(),
  subcode: z.number().int().min(0).max(255).optional(),
  /** ISO 8601. */
  at: text(64),
});

/** What was negotiated in the OPEN exchange. */
export const bgpNegotiatedSchema = z.strictObject({
  families: texts(),
  holdTimeSeconds: seconds,
  keepaliveSeconds: seconds,
  fourOctetAsn: z.boolean(),
  routeRefresh: z.boolean(),
  gracefulRestart: z.boolean(),
  extendedNextHop: texts(),
  peerRouterID: text(MAX_TEXT.address),
  localAddress: text(MAX_TEXT.address),
});

/** One peer's session, keyed by the peer's address in `detail.peers`. */
export const bgpSessionDetailSchema = z.strictObject({
  name: text(),
  instance: text(),
  address: text(MAX_TEXT.address),
  peerASN: z.number().int().min(0).max(0xffff_ffff),
  state: bgpSessionStateSchema,
  /** As of the report: the console adds the report's age for an Established session. */
  uptimeSeconds: z.number().min(0).max(INT32_MAX),
  /** Times an Established session went down, including resets for config changes. */
  flaps: count,
  /** Keyed by family in the control plane's naming (ipv4-unicast, ipv6-unicast, vpnv4, vpnv6). */
  prefixes: z.record(text(64), bgpFamilyPrefixesSchema),
  negotiated: bgpNegotiatedSchema.optional(),
  /** Configured (not negotiated) values, to compare with the negotiated ones. */
  configured: z.strictObject({
    holdTimeSeconds: seconds.optional(),
    families: texts(),
    md5: z.boolean(),
    ebgpMultihop: z.number().int().min(1).max(255).optional(),
    gracefulRestart: z.boolean(),
  }),
  /** Whether the best accepted unicast routes from this peer go into the kernel. */
  installRoutes: z.boolean(),
  /** Routes from this peer in the kernel's main table now; 0 without installRoutes. */
  routesInstalled: count,
  problems,
  /** `prefixes` summed over families. */
  prefixesReceived: count,
  prefixesAccepted: count,
  prefixesAdvertised: count,
  /** The last error in words, as `lastErrorDetail.words`. */
  lastError: text(MAX_TEXT.message).optional(),
  lastErrorDetail: bgpSessionErrorSchema.optional(),
});
export type BgpSessionDetail = z.infer<typeof bgpSessionDetailSchema>;

/** One BGP instance on the node: its own speaker, ASN and router ID. */
export const bgpInstanceStatusSchema = z.strictObject({
  name: text(),
  localASN: z.number().int().min(0).max(0xffff_ffff).optional(),
  routerID: text(MAX_TEXT.address).optional(),
  /** Its speaker runs (false: it could not start, see problems). */
  running: z.boolean(),
  /** After a graceful restart (RFC 4724 §4.1): selection waits for the peers' End-of-RIB. */
  gracefulRestart: z
    .strictObject({
      deferring: z.boolean(),
      since: text(64),
      /** Per family still deferred: the peers (addresses) whose End-of-RIB is awaited. */
      waiting: z.array(z.strictObject({ family: text(64), peers: texts(MAX_REPORTED_PEERS) })).max(16),
      completed: z
        .strictObject({ at: text(64), reason: z.enum(["end-of-rib", "timer", "stopped"]) })
        .optional(),
    })
    .optional(),
  problems,
});
export type BgpInstanceStatus = z.infer<typeof bgpInstanceStatusSchema>;

/** The `bgp` component's detail. */
export const bgpComponentDetailSchema = z.strictObject({
  /** Every instance that selects this node; peers name theirs in `instance`. */
  instances: z.array(bgpInstanceStatusSchema).max(MAX_ITEMS.small),
  /** Some instance's speaker runs. */
  running: z.boolean(),
  peers: z
    .record(text(MAX_TEXT.address), bgpSessionDetailSchema)
    .refine((p) => Object.keys(p).length <= MAX_REPORTED_PEERS, `at most ${MAX_REPORTED_PEERS} peers`),
  problems,
  lastError: text(MAX_TEXT.description).optional(),
  /** Routes a previous agent installed, kept until the peers re-announce them. */
  adoptedKernelRoutes: count.optional(),
});
export type BgpComponentDetail = z.infer<typeof bgpComponentDetailSchema>;
