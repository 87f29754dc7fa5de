import { egressGatewayPolicySpecSchema } from "@meridian/model";
import { defineResource } from "../resources/define";
import { mergeRouters } from "../trpc";
import { egressLiveRouter } from "./live";
import { validateEgressPolicy } from "./service";

const egressCrud = defineResource({
  entityType: "EgressGatewayPolicy",
  cilium: true,
  label: "egress gateway policy",
  path: "egress-gateway-policies",
  tag: "egress",
  delegate: (tx) => tx.egressGatewayPolicy,
  spec: egressGatewayPolicySpecSchema,
  hasEnabled: true,
  hasDescription: true,
  validate: (tx, spec) => validateEgressPolicy(tx, spec),
});

/** The policies as stored, and egress.live: what the nodes' datapaths report for each. */
export const egressPoliciesRouter = mergeRouters(egressCrud, egressLiveRouter);
