// Network policies in CiliumNetworkPolicy shape; namespace "" is cluster-wide
// (CiliumClusterwideNetworkPolicy). `whatIf` answers with the same compiler the datapath's
// state comes from, so the console's verdict is the enforced one.
import { z } from "zod";
import { latestSnapshot } from "../agent/desired-state";
import { whatIf } from "../compiler";
import { fieldError } from "../errors";
import { defineResource } from "../resources/define";
import { networkPolicySpecSchema, protocolSchema } from "../spec";
import { createTRPCRouter, mergeRouters, viewerProcedure } from "../trpc";

const policiesCrud = defineResource({
  entityType: "NetworkPolicy",
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

const whatIfRouter = createTRPCRouter({
  whatIf: viewerProcedure
    .input(
      z.object({
        source: z.object({ namespace: z.string().min(1).max(63), name: z.string().min(1).max(253) }),
        // Strict: a destination is exactly one of these, never an endpoint and an IP at once.
        destination: z.union([
          z.strictObject({
            endpoint: z.strictObject({
              namespace: z.string().min(1).max(63),
              name: z.string().min(1).max(253),
            }),
          }),
          z.strictObject({ ip: z.string().min(1).max(64) }),
          z.strictObject({ fqdn: z.string().min(1).max(254) }),
        ]),
        port: z.number().int().min(0).max(65535),
        protocol: protocolSchema,
      }),
    )
    .output(
      check
        .omit({ direction: true, endpoint: true, remoteIdentity: true })
        .extend({ revision: z.number().int(), checks: z.array(check) }),
    )
    .query(async ({ ctx, input }) => {
      const byName = async (field: string, ref: { namespace: string; name: string }) => {
        const ep = await ctx.db.endpoint.findUnique({ where: { namespace_name: ref }, select: { id: true } });
        if (!ep) throw fieldError([field], `no endpoint ${ref.namespace}/${ref.name}`);
        return ep.id;
      };
      const source = await byName("source", input.source);
      const d = input.destination;
      const destination =
        "endpoint" in d ? { endpoint: await byName("destination.endpoint", d.endpoint) } : d;
      // Read fresh rather than from the feed-driven cache: a what-if right after a write must see it.
      const snapshot = await latestSnapshot(ctx.db);
      const result = whatIf(snapshot, { source, destination, port: input.port, protocol: input.protocol });
      return { ...result, revision: snapshot.revision };
    }),
});

export const networkPoliciesRouter = mergeRouters(policiesCrud, whatIfRouter);
