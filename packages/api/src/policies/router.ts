// Network policies in CiliumNetworkPolicy shape; namespace "" is cluster-wide
// (CiliumClusterwideNetworkPolicy). `whatIf` answers with the same compiler the datapath's
// state comes from, so the console's verdict is the enforced one.

import {
  dnsNameSchema,
  ipAddressSchema,
  networkPolicySpecSchema,
  normalizeDnsName,
  protocolSchema,
  whatIf,
} from "@meridian/model";
import { z } from "zod";
import { loadSnapshot } from "../agent/snapshot";
import { fieldError, notFound } from "../errors";
import { defineResource } from "../resources/define";
import { createTRPCRouter, mergeRouters, viewerProcedure } from "../trpc";
import { policyRollout } from "./rollout";

const policiesCrud = defineResource({
  entityType: "NetworkPolicy",
  cilium: true,
  label: "network policy",
  path: "network-policies",
  tag: "policies",
  delegate: (tx) => tx.networkPolicy,
  spec: networkPolicySpecSchema,
  namespaced: true,
  hasEnabled: true,
  hasDescription: true,
});

const check = z.object({
  direction: z.enum(["ingress", "egress"]),
  endpoint: z.string(),
  remoteIdentity: z.number().int(),
  verdict: z.enum(["allow", "deny"]),
  reason: z.string(),
  ruleId: z.string().optional(),
  policy: z.string().optional(),
});

const endpointRef = z.strictObject({
  namespace: z.string().min(1, "write namespace/name").max(63),
  name: z.string().min(1, "write namespace/name").max(253),
});

const rolloutOutput = z.object({
  policy: z.string(),
  enabled: z.boolean(),
  revision: z.number().int().nullable(),
  selected: z.object({
    total: z.number().int(),
    pods: z.array(z.object({ namespace: z.string(), name: z.string(), node: z.string() })),
  }),
  nodes: z.array(
    z.object({
      name: z.string(),
      appliedRevision: z.number().int().nullable(),
      lastHeartbeatAt: z.date().nullable(),
      stale: z.boolean(),
      applied: z.boolean(),
    }),
  ),
  everyNode: z.boolean(),
});

const whatIfRouter = createTRPCRouter({
  /** The pods a policy selects and which nodes have applied its latest revision (heartbeats). */
  rollout: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/network-policies/{id}/rollout", tags: ["policies"] } })
    .input(z.object({ id: z.string().min(1).max(64) }))
    .output(rolloutOutput)
    .query(async ({ ctx, input }) => {
      const r = await policyRollout(ctx.db, input.id);
      if (!r) throw notFound(`network policy ${input.id}`);
      return r;
    }),

  /**
   * The datapath's verdict for one flow, from the same compiler the nodes' state comes from, over
   * a fresh snapshot. Reasons name endpoints as people know them (namespace/name); `names` maps the
   * ids in `checks` to those names.
   */
  whatIf: viewerProcedure
    .input(
      z.object({
        source: endpointRef,
        // Strict: a destination is exactly one of these, never an endpoint and an IP at once.
        destination: z.union([
          z.strictObject({ endpoint: endpointRef }),
          z.strictObject({ ip: ipAddressSchema }),
          z.strictObject({ fqdn: dnsNameSchema }),
        ]),
        port: z.number().int().min(0, "port must be 0..65535").max(65535, "port must be 0..65535"),
        protocol: protocolSchema,
      }),
    )
    .output(
      check.omit({ direction: true, endpoint: true, remoteIdentity: true }).extend({
        revision: z.number().int(),
        checks: z.array(check),
        names: z.record(z.string(), z.string()),
      }),
    )
    .query(async ({ ctx, input }) => {
      // Read fresh rather than from the feed-driven cache: a what-if right after a write must see it.
      const snapshot = await loadSnapshot(ctx.db);
      const byName = (field: (string | number)[], ref: { namespace: string; name: string }) => {
        const ep = snapshot.endpoints.find((e) => e.namespace === ref.namespace && e.name === ref.name);
        if (!ep) throw fieldError(field, `no endpoint ${ref.namespace}/${ref.name}`);
        return ep.id;
      };
      const source = byName(["source"], input.source);
      const d = input.destination;
      const destination =
        "endpoint" in d
          ? { endpoint: byName(["destination", "endpoint"], d.endpoint) }
          : "fqdn" in d
            ? { fqdn: normalizeDnsName(d.fqdn) }
            : d;
      const result = whatIf(snapshot, { source, destination, port: input.port, protocol: input.protocol });
      const names = new Map(snapshot.endpoints.map((e) => [e.id, `${e.namespace}/${e.name}`]));
      const used = [...new Set(result.checks.map((c) => c.endpoint))];
      // The compiler names endpoints by id; people know them as namespace/name.
      const words = (text: string) => used.reduce((t, id) => t.replaceAll(id, names.get(id) ?? id), text);
      return {
        ...result,
        reason: words(result.reason),
        checks: result.checks.map((c) => ({ ...c, reason: words(c.reason) })),
        revision: snapshot.revision,
        names: Object.fromEntries(used.map((id) => [id, names.get(id) ?? id])),
      };
    }),
});

export const networkPoliciesRouter = mergeRouters(policiesCrud, whatIfRouter);
