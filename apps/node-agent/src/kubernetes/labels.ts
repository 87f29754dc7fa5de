// The labels an endpoint gets from its pod, spelled as Cilium spells them, so that imported Cilium
// policies selecting on namespace, service account, cluster or namespace labels match Meridian's
// endpoints (Cilium's pkg/k8s/apis/cilium.io/const.go and pkg/labels).
import type { V1Namespace, V1Pod } from "@kubernetes/client-node";

export const POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
export const SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount";
export const CLUSTER_LABEL = "io.cilium.k8s.policy.cluster";
export const NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels.";

export function podEndpointLabels(
  pod: V1Pod,
  namespace: V1Namespace | undefined,
  clusterName: string,
): Record<string, string> {
  const ns = pod.metadata?.namespace ?? "default";
  const labels: Record<string, string> = { ...pod.metadata?.labels };
  for (const [k, v] of Object.entries(namespace?.metadata?.labels ?? {}))
    labels[`${NAMESPACE_LABELS_PREFIX}${k}`] = v;
  labels[POD_NAMESPACE_LABEL] = ns;
  labels[SERVICE_ACCOUNT_LABEL] = pod.spec?.serviceAccountName ?? "default";
  labels[CLUSTER_LABEL] = clusterName;
  return labels;
}
