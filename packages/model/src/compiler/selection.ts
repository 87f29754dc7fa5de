// Who selects whom. Kubernetes namespaces reach selectors as the label Cilium uses for them, so
// a namespaced policy sees only its own namespace unless a selector names another one.
import { type LabelSelector, type Labels, selectorMatchesNormalized, selectorMentionsKey } from "../spec";
import type { SnapshotEndpoint, SnapshotPolicy } from "./snapshot";

export const NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
/** Cilium labels every endpoint with its cluster's name; Cilium's default name is "default", and so is Meridian's. */
export const CLUSTER_LABEL = "io.cilium.k8s.policy.cluster";
export const CLUSTER_NAME = "default";

export function endpointLabels(endpoint: Pick<SnapshotEndpoint, "labels" | "namespace">): Labels {
  return { ...endpoint.labels, [NAMESPACE_LABEL]: endpoint.namespace, [CLUSTER_LABEL]: CLUSTER_NAME };
}

export function policyKey(policy: Pick<SnapshotPolicy, "name" | "namespace">): string {
  return policy.namespace === null ? policy.name : `${policy.namespace}/${policy.name}`;
}

export function isPolicyActive(policy: SnapshotPolicy): boolean {
  return policy.enabled && policy.spec.enabled !== false;
}

/** A namespaced policy's selectors are confined to its namespace unless they say otherwise. */
export function scopeSelector(selector: LabelSelector, namespace: string | null): LabelSelector {
  if (namespace === null || selectorMentionsKey(selector, NAMESPACE_LABEL)) return selector;
  return { ...selector, matchLabels: { ...selector.matchLabels, [NAMESPACE_LABEL]: namespace } };
}

/** `labels` are the endpoint's normalized labels with the namespace label (see SnapshotIndex). */
export function policySelectsEndpoint(
  policy: SnapshotPolicy,
  endpoint: SnapshotEndpoint,
  labels: Labels,
): boolean {
  if (!isPolicyActive(policy)) return false;
  if (policy.namespace !== null && policy.namespace !== endpoint.namespace) return false;
  return selectorMatchesNormalized(scopeSelector(policy.spec.endpointSelector, policy.namespace), labels);
}
