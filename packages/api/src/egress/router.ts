import { defineResource } from "../resources/define";
import { egressGatewayPolicySpecSchema } from "../spec";
import { validateEgressPolicy } from "./service";

export const egressPoliciesRouter = defineResource({
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
