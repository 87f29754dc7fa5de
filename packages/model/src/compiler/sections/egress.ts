// The `egress` section (`egressGateway`): the egress gateway policies this node takes part in, as
// a source (its pods to steer) or a gateway (every source address to SNAT). Compiled in ../egress.ts.
// Gateways that match no node, or whose egress IP no selected node can source, go to `problems`
// on every node that takes part in the policy.
import { z } from "zod";
import { compileEgressGateway } from "../egress";
import type { CompileProblem } from "../types";
import { defineSection } from "./section";

export const egressGatewayStateSchema = z.strictObject({
  policy: z.string(),
  isSource: z.boolean(),
  isGateway: z.boolean(),
  /** Local pods to steer (source role). */
  localSourceEndpoints: z.array(z.string()),
  /** Every source pod address, for SNAT and the return path (gateway role only). */
  sourceIPs: z.array(z.string()),
  destinationCIDRs: z.array(z.string()),
  excludedCIDRs: z.array(z.string()),
  gateways: z.array(
    z.strictObject({
      node: z.string(),
      /** Where source nodes send steered traffic: the gateway node's first address. */
      nodeIP: z.string().optional(),
      egressIP: z.string().optional(),
      interface: z.string().optional(),
      /** Within the first maxActiveGateways in node-name order; the rest are standbys. */
      active: z.boolean(),
    }),
  ),
  ha: z.strictObject({
    healthCheckIntervalMs: z.number().int(),
    healthCheckTimeoutMs: z.number().int(),
    maxActiveGateways: z.number().int(),
  }),
});

export const egressSection = defineSection({
  name: "egress",
  keys: ["egressGateway"],
  schema: z.strictObject({ egressGateway: z.array(egressGatewayStateSchema) }),
  compile: ({ snapshot, node, problem }) => {
    const problems: CompileProblem[] = [];
    const egressGateway = compileEgressGateway(snapshot, node.name, problems);
    for (const p of problems) problem(p);
    return { egressGateway };
  },
});
