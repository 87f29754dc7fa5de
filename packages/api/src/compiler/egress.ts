// Egress gateway rules for a node that is a source (it steers its pods) or a gateway (it SNATs).
import { type Labels, parseIp, selectorMatches } from "../spec";
import { byText } from "./hash";
import type { ClusterSnapshot, SnapshotEgressPolicy, SnapshotNode } from "./snapshot";
import type { EgressGatewayState, EgressGatewayTarget } from "./types";

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

/** Gateways in node-name order, one per node; the first maxActiveGateways are active. */
export function resolveGateways(
  snapshot: ClusterSnapshot,
  policy: SnapshotEgressPolicy,
): EgressGatewayTarget[] {
  const targets = new Map<string, EgressGatewayTarget>();
  for (const gw of policy.spec.gateways) {
    const matched = snapshot.nodes.filter((n) =>
      gw.nodeName !== undefined ? n.name === gw.nodeName : selectorMatches(gw.nodeSelector ?? {}, n.labels),
    );
    for (const node of matched) {
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

export function compileEgressGateway(snapshot: ClusterSnapshot, nodeName: string): EgressGatewayState[] {
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
