// Checks an egress gateway policy against the node inventory: every egress IP must be
// sourceable by the gateway nodes it names (one of their addresses, or in one of their subnets).
import { fieldErrors } from "../errors";
import type { Tx } from "../revisions/commit";
import { type EgressGatewayPolicySpec, egressIpProblems, type Labels } from "../spec";

export async function validateEgressPolicy(tx: Tx, spec: EgressGatewayPolicySpec): Promise<void> {
  const nodes = await tx.node.findMany({ select: { name: true, labels: true, addresses: true } });
  const problems = egressIpProblems(
    spec,
    nodes.map((n) => ({ name: n.name, labels: (n.labels ?? {}) as Labels, addresses: n.addresses })),
  );
  if (problems.length) {
    throw fieldErrors(problems.map((p) => ({ path: ["spec", ...parseField(p.field)], message: p.message })));
  }
}

/** `gateways[0].egressIP` → ["gateways", 0, "egressIP"] */
export function parseField(field: string): (string | number)[] {
  return field
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}
