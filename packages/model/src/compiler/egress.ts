// Egress gateway rules for a node that is a source (it steers its pods) or a gateway (it SNATs).
import { type Labels, nodeOwnsSubnetFor, parseIp, selectorMatches } from "../spec";
import { byText } from "./hash";
import type { ClusterSnapshot, SnapshotEgressPolicy, SnapshotNode } from "./snapshot";
import type { CompileProblem, EgressGatewayState, EgressGatewayTarget } from "./types";

/** Namespaces carry their name as a label, which namespaceSelector matches. */
export function namespaceLabels(namespace: string): Labels {
  return { "kubernetes.io/metadata.name": namespace };
}

function nodeByName(snapshot: ClusterSnapshot): Map<string, SnapshotNode> {
  return new Map(snapshot.nodes.map((n) => [n.name, n]));
}

export function egressSourceEndpoints(snapshot: ClusterSnapshot, policy: SnapshotEgressPolicy) {
  const nodes = nodeByName(snapshot);
  return snapshot.endpoints
    .filter((ep) =>
      policy.spec.selectors.some((sel) => {
        const node = nodes.get(ep.node);
        return (
          selectorMatches(sel.podSelector ?? {}, ep.labels) &&
          selectorMatches(sel.namespaceSelector ?? {}, namespaceLabels(ep.namespace)) &&
          (sel.nodeSelector === undefined ||
            (node !== undefined && selectorMatches(sel.nodeSelector, node.labels)))
        );
      }),
    )
    .sort((a, b) => byText(a.id, b.id));
}

function gatewayNodes(snapshot: ClusterSnapshot, gw: SnapshotEgressPolicy["spec"]["gateways"][number]) {
  return snapshot.nodes.filter((n) =>
    gw.nodeName !== undefined ? n.name === gw.nodeName : selectorMatches(gw.nodeSelector ?? {}, n.labels),
  );
}

/**
 * Gateways of a policy that the datapath cannot use, each naming its field and the reason: a
 * nodeName or nodeSelector that matches no node (yet), and an egress IP that no selected gateway
 * node can source (not one of its addresses nor in one of their subnets). The policy is still
 * compiled with the gateways that remain; these say what it leaves out.
 */
export function egressGatewayProblems(
  snapshot: ClusterSnapshot,
  policy: SnapshotEgressPolicy,
): CompileProblem[] {
  const problems: CompileProblem[] = [];
  const problem = (message: string) => problems.push({ area: "egress", object: policy.name, message });
  for (const [i, gw] of policy.spec.gateways.entries()) {
    const matched = gatewayNodes(snapshot, gw);
    if (matched.length === 0) {
      problem(
        gw.nodeName !== undefined
          ? `gateways[${i}].nodeName: no node is named ${gw.nodeName}`
          : `gateways[${i}].nodeSelector: matches no node`,
      );
      continue;
    }
    const egressIP = gw.egressIP;
    if (egressIP === undefined) continue;
    const outside = matched.filter((n) => !nodeOwnsSubnetFor(n, egressIP)).map((n) => n.name);
    if (outside.length > 0) {
      problem(
        `gateways[${i}].egressIP: egress IP ${egressIP} is on no address or subnet of gateway node(s) ${outside.sort(byText).join(", ")}`,
      );
    }
  }
  return problems;
}

/** Gateways in node-name order, one per node; the first maxActiveGateways are active. */
export function resolveGateways(
  snapshot: ClusterSnapshot,
  policy: SnapshotEgressPolicy,
): EgressGatewayTarget[] {
  const targets = new Map<string, EgressGatewayTarget>();
  for (const gw of policy.spec.gateways) {
    for (const node of gatewayNodes(snapshot, gw)) {
      if (targets.has(node.name)) continue;
      const nodeIP = node.addresses.map((a) => parseIp(a.split("/")[0]!)?.text).find((a) => a !== undefined);
      targets.set(node.name, {
        node: node.name,
        ...(nodeIP ? { nodeIP } : {}),
        ...(gw.egressIP ? { egressIP: gw.egressIP } : {}),
        ...(gw.interface ? { interface: gw.interface } : {}),
        active: false,
      });
    }
  }
  const sorted = [...targets.values()].sort((a, b) => byText(a.node, b.node));
  return sorted.map((t, i) => ({ ...t, active: i < policy.spec.ha.maxActiveGateways }));
}

/** `problems`, when given, gets the problems of each policy this node takes part in. */
export function compileEgressGateway(
  snapshot: ClusterSnapshot,
  nodeName: string,
  problems: CompileProblem[] = [],
): EgressGatewayState[] {
  const out: EgressGatewayState[] = [];
  const policies = snapshot.egressPolicies
    .filter((p) => p.spec.enabled !== false)
    .sort((a, b) => byText(a.name, b.name));
  for (const policy of policies) {
    const sources = egressSourceEndpoints(snapshot, policy);
    const gateways = resolveGateways(snapshot, policy);
    const localSources = sources.filter((ep) => ep.node === nodeName).map((ep) => ep.id);
    const isGateway = gateways.some((g) => g.node === nodeName);
    const isSource = localSources.length > 0;
    if (!isSource && !isGateway) continue;
    problems.push(...egressGatewayProblems(snapshot, policy));
    out.push({
      policy: policy.name,
      isSource,
      isGateway,
      localSourceEndpoints: localSources,
      sourceIPs: isGateway
        ? sources.flatMap((ep) => [ep.ipv4, ep.ipv6].filter((a): a is string => a !== undefined)).sort(byText)
        : [],
      destinationCIDRs: [...policy.spec.destinationCIDRs].sort(byText),
      excludedCIDRs: [...policy.spec.excludedCIDRs].sort(byText),
      gateways,
      ha: { ...policy.spec.ha },
    });
  }
  return out;
}
