// Checks an egress gateway policy against the node inventory: every egress IP must be
// sourceable by the gateway nodes it names (one of their addresses, or in one of their subnets).
// Reading the nodes and checking against them are apart, so an import of many policies reads once.

import {
  type EgressGatewayPolicySpec,
  egressIpProblems,
  type GatewayNodeCandidate,
  type Labels,
} from "@meridian/model";
import { type FieldProblem, fieldErrors } from "../errors";
import type { Tx } from "../revisions/commit";

export async function loadGatewayNodes(tx: Tx): Promise<GatewayNodeCandidate[]> {
  const nodes = await tx.node.findMany({ select: { name: true, labels: true, addresses: true } });
  return nodes.map((n) => ({ name: n.name, labels: (n.labels ?? {}) as Labels, addresses: n.addresses }));
}

export function egressPolicyProblems(
  spec: EgressGatewayPolicySpec,
  nodes: GatewayNodeCandidate[],
): FieldProblem[] {
  return egressIpProblems(spec, nodes).map((p) => ({
    path: ["spec", ...parseField(p.field)],
    message: p.message,
  }));
}

export async function validateEgressPolicy(tx: Tx, spec: EgressGatewayPolicySpec): Promise<void> {
  const problems = egressPolicyProblems(spec, await loadGatewayNodes(tx));
  if (problems.length) throw fieldErrors(problems);
}
/** `gateways[0].egressIP` → ["gateways", 0, "egressIP"] */
export function parseField(field: string): (string | number)[] {
  return field
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}
