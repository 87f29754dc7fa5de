// Component status, the contract between agent and API: what each component of an agent reports
// (agent.reportStatus) and what the console reads back (status.overview). The agent's subsystems
// build their status to these schemas; the API checks every report of a component listed in
// COMPONENT_DETAIL_SCHEMAS against its schema and refuses one that does not fit, naming the field.
// A component not listed yet (a feature in the making) is taken with a free detail.
import { z } from "zod";
import { bgpComponentDetailSchema } from "../bgp/session-schemas";
import { dnsComponentDetailSchema } from "../dns/schemas";
import { MAX_TEXT } from "../spec/limits";

export const COMPONENT_STATES = ["ok", "degraded", "error", "unknown"] as const;
export const componentStateSchema = z.enum(COMPONENT_STATES);
export type ComponentState = z.infer<typeof componentStateSchema>;

export const componentNameSchema = z.string().min(1).max(64);
export const componentMessageSchema = z.string().max(MAX_TEXT.description);

/** One component's status with its name fixed and its detail typed (what an agent subsystem reports). */
export function componentStatusOf<C extends string, D extends z.ZodType<Record<string, unknown>>>(
  component: C,
  detail: D,
) {
  return z.object({
    component: z.literal(component),
    state: componentStateSchema,
    message: componentMessageSchema,
    detail: detail.optional(),
  });
}

/** `datapath` (the policy subsystem): no detail. */
export const datapathDetailSchema = z.strictObject({});
/** `routing`: no detail. */
export const routingDetailSchema = z.strictObject({});
/** `cni`: the node's PodCIDRs. */
export const cniDetailSchema = z.strictObject({ podCIDRs: z.array(z.string().max(MAX_TEXT.address)).max(2) });

/** `srv6` (the agent's SRv6 L3VPN datapath): locators, SIDs, per-VRF entries, counters. */
export const srv6DetailSchema = z.strictObject({
  source: z.string().max(MAX_TEXT.address).nullable(),
  locators: z.array(z.string().max(MAX_TEXT.address)).max(64),
  sids: z
    .array(
      z.strictObject({
        sid: z.string().max(MAX_TEXT.address),
        vrf: z.string().max(256),
        behavior: z.string().max(16),
      }),
    )
    .max(4096),
  vrfs: z
    .array(
      z.strictObject({
        name: z.string().max(256),
        vrfID: z.number().int(),
        members: z.number().int(),
        staticPolicies: z.number().int(),
        bgpPolicies: z.number().int(),
        /** VPN routes advertised for the VRF (its member pods' addresses). */
        exported: z.number().int().optional(),
        routeDistinguisher: z.string().max(64).optional(),
        importRouteTargets: z.array(z.string().max(64)).max(64).optional(),
        exportRouteTargets: z.array(z.string().max(64)).max(64).optional(),
      }),
    )
    .max(4096),
  /** The SR policies in the datapath (static and BGP-learned), at most SRV6_REPORTED_POLICIES. */
  policies: z
    .array(
      z.strictObject({
        vrf: z.string().max(256),
        destination: z.string().max(MAX_TEXT.address),
        segments: z.array(z.string().max(MAX_TEXT.address)).max(16),
        source: z.enum(["static", "bgp"]),
        /** BGP-learned: the peer and RD it came from; stale while graceful restart holds it. */
        peer: z.string().max(256).optional(),
        rd: z.string().max(64).optional(),
        stale: z.boolean().optional(),
      }),
    )
    .max(1024)
    .optional(),
  /** The VPN routes this node advertises for its VRFs, at most SRV6_REPORTED_POLICIES. */
  exported: z
    .array(
      z.strictObject({
        vrf: z.string().max(256),
        prefix: z.string().max(MAX_TEXT.address),
        routeDistinguisher: z.string().max(64),
        routeTargets: z.array(z.string().max(64)).max(64),
        sid: z.string().max(MAX_TEXT.address),
      }),
    )
    .max(1024)
    .optional(),
  /** VRFs with export route targets that advertise nothing, and why. */
  exportSkipped: z
    .array(z.strictObject({ vrf: z.string().max(256), reason: z.string().max(512) }))
    .max(4096)
    .optional(),
  /** Datapath packet counters by name: encapsulated, decapsulated, transit, and one per drop reason. */
  counters: z.record(z.string().max(64), z.number()),
});
/** How many SR policies an agent lists in its srv6 status (the rest are only counted per VRF). */
export const SRV6_REPORTED_POLICIES = 1024;

/**
 * `egress` (the agent's egress gateway datapath): per policy this node takes part in, its role
 * here, the gateway the datapath uses (the first active one), the egress IP, the local pods it
 * steers and the translations this node holds for it (as gateway); counters over all policies.
 */
export const egressDetailSchema = z.strictObject({
  policies: z
    .array(
      z.strictObject({
        policy: z.string().max(MAX_TEXT.name),
        role: z.enum(["source", "gateway", "source+gateway"]),
        /** What this node does with the policy's new connections, per family it has CIDRs of. */
        mode: z.strictObject({
          ipv4: z.enum(["steer", "snat", "drop"]).nullable(),
          ipv6: z.enum(["steer", "snat", "drop"]).nullable(),
        }),
        /** The gateway new connections use from this node: the first healthy one of the control plane's order. */
        activeGateway: z.string().max(MAX_TEXT.name).nullable(),
        /** The control plane's first active gateway (the intent); differs from activeGateway after a failover. */
        intendedGateway: z.string().max(MAX_TEXT.name).nullable().optional(),
        /** The policy's gateways in the control plane's order, with their health as this node's probes see it. */
        gateways: z
          .array(
            z.strictObject({
              node: z.string().max(MAX_TEXT.name),
              healthy: z.boolean(),
              reason: z.string().max(MAX_TEXT.message).optional(),
              /** When its last answer to a probe came (ISO time); none for this node itself. */
              lastCheck: z.string().max(64).optional(),
            }),
          )
          .max(64)
          .optional(),
        /** How often the active gateway moved here since the agent started, and the last time. */
        failovers: z.number().int().nonnegative().optional(),
        lastFailover: z
          .strictObject({
            at: z.string().max(64),
            from: z.string().max(MAX_TEXT.name).nullable(),
            to: z.string().max(MAX_TEXT.name).nullable(),
            reason: z.string().max(MAX_TEXT.message),
            /** From the left gateway's last answer to the switch in the datapath. */
            durationMs: z.number().int().nonnegative().nullable(),
          })
          .nullable()
          .optional(),
        egressIP: z.string().max(MAX_TEXT.address).nullable(),
        selectedLocalPods: z.number().int().nonnegative(),
        /** Selected local pods the agent has no address for (not on this node's CNI yet). */
        missingLocalPods: z.number().int().nonnegative(),
        snatEntries: z.number().int().nonnegative(),
        /** Why the policy cannot send traffic out here (no active gateway, no egress IP, …). */
        problems: z.array(z.string().max(MAX_TEXT.message)).max(16),
      }),
    )
    .max(4096),
  counters: z.record(z.string().max(64), z.number()),
});

/** The components whose detail has a schema, by component name. */
export const COMPONENT_DETAIL_SCHEMAS = {
  datapath: datapathDetailSchema,
  routing: routingDetailSchema,
  cni: cniDetailSchema,
  bgp: bgpComponentDetailSchema,
  srv6: srv6DetailSchema,
  egress: egressDetailSchema,
  dns: dnsComponentDetailSchema,
} as const satisfies Record<string, z.ZodType<Record<string, unknown>>>;
export type KnownComponent = keyof typeof COMPONENT_DETAIL_SCHEMAS;
export type ComponentDetail<C extends KnownComponent> = z.infer<(typeof COMPONENT_DETAIL_SCHEMAS)[C]>;

export const datapathStatusSchema = componentStatusOf("datapath", datapathDetailSchema);
export const routingStatusSchema = componentStatusOf("routing", routingDetailSchema);
export const cniStatusSchema = componentStatusOf("cni", cniDetailSchema);
export const bgpStatusSchema = componentStatusOf("bgp", bgpComponentDetailSchema);
export const srv6StatusSchema = componentStatusOf("srv6", srv6DetailSchema);
export const egressStatusSchema = componentStatusOf("egress", egressDetailSchema);
export const dnsStatusSchema = componentStatusOf("dns", dnsComponentDetailSchema);

const isKnown = (c: string): c is KnownComponent => Object.hasOwn(COMPONENT_DETAIL_SCHEMAS, c);

/**
 * One component in a status report: any component, its detail checked against its own schema when
 * it has one. A detail left out is stored as `{}`.
 */
export const reportedComponentSchema = z
  .object({
    component: componentNameSchema,
    state: componentStateSchema,
    message: componentMessageSchema.default(""),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.detail === undefined || !isKnown(c.component)) return;
    const parsed = COMPONENT_DETAIL_SCHEMAS[c.component].safeParse(c.detail);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      ctx.addIssue({
        code: "custom",
        path: ["detail", ...issue.path],
        message: `${c.component} component: ${issue.message}`,
      });
    }
  })
  .transform((c) => ({ ...c, detail: c.detail ?? {} }));
export type ReportedComponent = z.input<typeof reportedComponentSchema>;

/** The detail of a stored `component` status, or undefined when it does not fit the schema (an older agent's). */
export function parseComponentDetail<C extends KnownComponent>(
  component: C,
  detail: unknown,
): ComponentDetail<C> | undefined {
  const parsed = COMPONENT_DETAIL_SCHEMAS[component].safeParse(detail);
  return parsed.success ? (parsed.data as ComponentDetail<C>) : undefined;
}
