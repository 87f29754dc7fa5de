// YAML for import tests: many small CiliumNetworkPolicies, one document each.

export function policyDocument(name: string, namespace: string, port = 80): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ${JSON.stringify(name)}
  namespace: ${JSON.stringify(namespace)}
spec:
  endpointSelector:
    matchLabels: {app: web}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: lb}
    toPorts:
    - ports:
      - {port: "${port}", protocol: TCP}
`;
}

export function manyPolicies(count: number, namespace: string, port = 80): string {
  return Array.from({ length: count }, (_, i) => policyDocument(`web-${i}`, namespace, port)).join("---\n");
}
