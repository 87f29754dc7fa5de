// Imports that would change what a policy does are supported faithfully or refused with the reason;
// verdicts are the compiler's, on the test cluster of the compiler tests.

import type { SnapshotPolicy } from "@meridian/model";
import { whatIf } from "@meridian/model";
import { cluster, DB, DNS, WEB } from "@meridian/model/testing";
import { describe, expect, it } from "vitest";
import { exportCiliumYaml } from "./export";
import { importCiliumYaml } from "./import";

/** Cilium's "intercept all DNS" clusterwide policy (Documentation/security/dns.rst, 1.15+). */
const INTERCEPT_ALL_DNS = `
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: intercept-all-dns
spec:
  endpointSelector:
    matchExpressions:
      - key: io.kubernetes.pod.namespace
        operator: NotIn
        values: [kube-system]
  enableDefaultDeny:
    egress: false
    ingress: false
  egress:
    - toEndpoints:
        - matchLabels:
            io.kubernetes.pod.namespace: kube-system
            k8s-app: kube-dns
      toPorts:
        - ports:
            - port: "53"
              protocol: TCP
            - port: "53"
              protocol: UDP
          rules:
            dns:
              - matchPattern: "*"
`;

function asSnapshotPolicies(yaml: string): SnapshotPolicy[] {
  const result = importCiliumYaml(yaml);
  expect(result.errors).toEqual([]);
  return result.objects.map((o, i) => {
    if (o.kind !== "NetworkPolicy") throw new Error(`expected a policy, got ${o.kind}`);
    return { id: `p${i}`, name: o.name, namespace: o.namespace, enabled: true, version: 1, spec: o.spec };
  });
}

const tcp = (port: number) => ({ port, protocol: "TCP" as const });

describe("enableDefaultDeny (Cilium 1.15+)", () => {
  it("an intercept-all-DNS policy with default deny off leaves other egress open", () => {
    const snapshot = cluster({ policies: asSnapshotPolicies(INTERCEPT_ALL_DNS) });
    const toDb = whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, ...tcp(5432) });
    expect(toDb.verdict).toBe("allow");
    const toWorld = whatIf(snapshot, { source: WEB.id, destination: { ip: "203.0.113.7" }, ...tcp(443) });
    expect(toWorld.verdict).toBe("allow");
    const toDns = whatIf(snapshot, {
      source: WEB.id,
      destination: { endpoint: DNS.id },
      port: 53,
      protocol: "UDP",
    });
    expect(toDns.verdict).toBe("allow");
  });

  it("without enableDefaultDeny the same policy denies the rest of egress, as in Cilium", () => {
    const yaml = INTERCEPT_ALL_DNS.replace(
      / {2}enableDefaultDeny:\n {4}egress: false\n {4}ingress: false\n/,
      "",
    );
    expect(yaml).not.toContain("enableDefaultDeny");
    const snapshot = cluster({ policies: asSnapshotPolicies(yaml) });
    expect(whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, ...tcp(5432) }).verdict).toBe(
      "deny",
    );
  });

  it("a default-allow policy's deny rules still deny, and enableDefaultDeny: true enforces a direction without rules", () => {
    const snapshot = cluster({
      policies: asSnapshotPolicies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: no-db, namespace: prod }
spec:
  endpointSelector: { matchLabels: { app: web } }
  enableDefaultDeny: { egress: false }
  egressDeny:
    - toEndpoints: [{ matchLabels: { app: db } }]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: lock-db, namespace: prod }
spec:
  endpointSelector: { matchLabels: { app: db } }
  enableDefaultDeny: { ingress: true }
`),
    });
    expect(whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, ...tcp(5432) }).verdict).toBe(
      "deny",
    );
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DNS.id }, port: 53, protocol: "UDP" })
        .verdict,
    ).toBe("allow");
    const intoDb = whatIf(snapshot, { source: DNS.id, destination: { endpoint: DB.id }, ...tcp(5432) });
    expect(intoDb.verdict).toBe("deny");
    expect(intoDb.reason).toContain("default deny");
  });

  it("round-trips enableDefaultDeny through export", () => {
    const imported = importCiliumYaml(INTERCEPT_ALL_DNS);
    const exported = exportCiliumYaml(imported.objects);
    expect(exported.yaml).toContain("enableDefaultDeny:\n    ingress: false\n    egress: false");
    expect(importCiliumYaml(exported.yaml).objects.map((o) => o.spec)).toEqual(
      imported.objects.map((o) => o.spec),
    );
  });
});

describe("selectors that would match other endpoints than in Cilium", () => {
  it.each([
    ["io.cilium.k8s.policy.serviceaccount", "service account"],
    ["io.cilium.k8s.policy.cluster", 'cluster is named "default"'],
    ["io.cilium.k8s.namespace.labels.team", "namespace labels"],
    ["reserved:health", "reserved:"],
    ["reserved:ingress", "reserved:"],
  ])("refuses a rule selecting on %s unless acknowledged", (key, words) => {
    const yaml = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: sa, namespace: prod }
spec:
  endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { "${key}": web } }]
`;
    const refused = importCiliumYaml(yaml);
    expect(refused.objects).toEqual([]);
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors[0]).toMatchObject({ field: `spec.ingress[0].fromEndpoints[0].matchLabels.${key}` });
    expect(refused.errors[0]!.message).toContain(words);
    expect(refused.errors[0]!.message).toContain("would deny traffic the original allows");
    const accepted = importCiliumYaml(yaml, { acknowledgeDifferences: true });
    expect(accepted.objects).toHaveLength(1);
    expect(accepted.unsupported[0]).toMatchObject({ change: "denies-more" });
  });

  it("refuses a policy whose endpointSelector uses such a label, saying it applies to other endpoints", () => {
    const result = importCiliumYaml(`
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: by-cluster }
spec:
  endpointSelector:
    matchExpressions: [{ key: io.cilium.k8s.policy.cluster, operator: In, values: [east] }]
  ingress: [{ fromEntities: [cluster] }]
`);
    expect(result.objects).toEqual([]);
    expect(result.errors[0]!.field).toBe("spec.endpointSelector.matchExpressions[0]");
    expect(result.errors[0]!.message).toContain("the policy applies to other endpoints");
  });

  it.each([
    ["matchLabel: { app: web }", "matchLabel"],
    ["matchExpressions: [{ key: app, operator: In, valuez: [web] }]", "valuez"],
  ])("refuses a selector with a misspelt field (%s) rather than broadening it", (selector, key) => {
    const result = importCiliumYaml(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: typo, namespace: prod }
spec:
  endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ ${selector} }]
`);
    expect(result.objects).toEqual([]);
    const typo = result.errors.find((e) => e.message.includes(key));
    expect(typo?.field).toMatch(/^spec\.ingress\[0\]\.fromEndpoints\[0\]/);
  });

  it("refuses a misspelt DNS pattern field", () => {
    const result = importCiliumYaml(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: fqdn-typo, namespace: prod }
spec:
  endpointSelector: {}
  egress:
    - toFQDNs: [{ matchPatern: "*.example.com" }]
`);
    expect(result.objects).toEqual([]);
    expect(result.errors.map((e) => e.message).join(" ")).toContain("matchPatern");
  });
});

describe("dropped narrowing fields say what they do to traffic", () => {
  const rule = (extra: string) => `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: narrow, namespace: prod }
spec:
  endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: web } }]
${extra.replace(/^ {4}/gm, "      ")}
`;
  it.each([
    [
      "    icmps: [{ fields: [{ type: 8, family: IPv4 }] }]",
      "spec.ingress[0].icmps",
      "icmps dropped: the rule now allows every protocol and port from/to its peers, not only those ICMP types",
      "allows-more",
    ],
    [
      "    authentication: { mode: required }",
      "spec.ingress[0].authentication",
      "authentication dropped: its peers are allowed without mutual authentication",
      "allows-more",
    ],
    [
      '    toPorts: [{ ports: [{ port: "443", protocol: TCP }], serverNames: [api.example.com] }]',
      "spec.ingress[0].toPorts[0].serverNames",
      "serverNames dropped: port 443/TCP now allows TLS to every server name, not only the listed ones",
      "allows-more",
    ],
    [
      '    toPorts: [{ ports: [{ port: "443", protocol: TCP }] }]\n    icmps: [{ fields: [{ type: 8 }] }]',
      "spec.ingress[0].icmps",
      "icmps dropped: the listed ICMP types are no longer allowed (only the rule's ports are)",
      "denies-more",
    ],
  ])("%s", (extra, field, reason, change) => {
    const refused = importCiliumYaml(rule(extra));
    expect(refused.objects).toEqual([]);
    expect(refused.errors.map((e) => e.field)).toEqual([field]);
    const accepted = importCiliumYaml(rule(extra), { acknowledgeDifferences: true });
    expect(accepted.errors).toEqual([]);
    expect(accepted.unsupported).toEqual([
      { object: "CiliumNetworkPolicy/prod/narrow", field, reason, change },
    ]);
  });

  it("strict mode refuses an object with an unknown key that plain mode reports and leaves out", () => {
    const yaml = rule('    toPort: [{ ports: [{ port: "80" }] }]');
    const plain = importCiliumYaml(yaml);
    expect(plain.objects).toHaveLength(1);
    expect(plain.unsupported).toEqual([
      {
        object: "CiliumNetworkPolicy/prod/narrow",
        field: "spec.ingress[0].toPort",
        reason: "toPort is not a field Meridian knows here; left out",
      },
    ]);
    const strict = importCiliumYaml(yaml, { strict: true });
    expect(strict.objects).toEqual([]);
    expect(strict.errors).toEqual([
      {
        document: 0,
        field: "spec.ingress[0].toPort",
        message:
          "NetworkPolicy narrow not imported in strict mode: toPort is not a field Meridian knows here; left out",
      },
    ]);
  });
});

describe("BGP v2 resources", () => {
  const PEER_CONFIG = `
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata: { name: tor-config }
spec:
  timers: { holdTimeSeconds: 9, keepAliveTimeSeconds: 3 }
  families:
    - afi: ipv4
      safi: unicast
      advertisements: { matchLabels: { advertise-v4: "yes" } }
    - afi: ipv6
      safi: unicast
      advertisements: { matchLabels: { advertise-v6: "yes" } }
`;
  const CLUSTER_CONFIG = `
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata: { name: frr }
spec:
  nodeSelector: { matchLabels: { bgp: "yes" } }
  bgpInstances:
    - name: instance-64512
      localASN: 64512
      peers: [{ name: tor, peerAddress: 192.0.2.1, peerASN: 65000, peerConfigRef: { name: tor-config } }]
`;
  const advertisement = (labels: string, selector = "") => `
apiVersion: cilium.io/v2
kind: CiliumBGPAdvertisement
metadata: { name: services, labels: { ${labels} } }
spec:
  advertisements:
    - advertisementType: Service
      service: { addresses: [LoadBalancerIP] }
${selector}`;

  it("a peer config without its cluster config is listed as skipped, not dropped silently", () => {
    const result = importCiliumYaml(PEER_CONFIG);
    expect(result.objects).toEqual([]);
    expect(result.skipped).toEqual([
      {
        document: 0,
        kind: "CiliumBGPPeerConfig",
        name: "tor-config",
        reason:
          "neither a CiliumBGPClusterConfig in this import nor a stored peer refers to it (peerConfigRef), and Meridian keeps a peer's timers, graceful restart and families on the peer, so it is not kept: import it with or after the cluster config that refers to it",
      },
    ]);
  });

  it("a Service advertisement without a selector advertises no service, as in Cilium, and exports without one", () => {
    const result = importCiliumYaml(
      [PEER_CONFIG, CLUSTER_CONFIG, advertisement('advertise-v4: "yes", advertise-v6: "yes"')].join("---\n"),
    );
    expect(result.errors).toEqual([]);
    const ad = result.objects.find((o) => o.kind === "BgpAdvertisement")!;
    expect(ad.spec).toMatchObject({ type: "Service", peers: ["tor"] });
    expect((ad.spec as { service: object }).service).not.toHaveProperty("selector");
    const exported = exportCiliumYaml(result.objects).yaml;
    expect(exported).not.toContain("selector:\n");
  });

  it("refuses an advertisement a peer selects for IPv4 only, since Meridian would send it on IPv6 too", () => {
    const yaml = [
      PEER_CONFIG,
      CLUSTER_CONFIG,
      advertisement('advertise-v4: "yes"', "      selector: {}"),
    ].join("---\n");
    const refused = importCiliumYaml(yaml);
    expect(refused.objects.map((o) => o.kind).sort()).toEqual(["BgpInstance", "BgpPeer"]);
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors[0]!.message).toContain(
      "peer tor selects this advertisement only for ipv4-unicast; Meridian would also send its ipv6-unicast prefixes to that peer",
    );
    const both = advertisement('advertise-v4: "yes", advertise-v6: "yes"', "      selector: {}");
    expect(importCiliumYaml([PEER_CONFIG, CLUSTER_CONFIG, both].join("---\n")).errors).toEqual([]);
  });

  it("says when no peer config of the import selects an advertisement", () => {
    const result = importCiliumYaml(advertisement("team: a", "      selector: {}"));
    expect(result.objects[0]!.spec).toMatchObject({ peers: [] });
    expect(result.unsupported.map((u) => u.reason)).toEqual([
      "no CiliumBGPPeerConfig, in this import or imported before, selects this advertisement's labels, so it goes to no peer (as in Cilium until a peer config selects it)",
    ]);
  });
});

describe("toPorts entries Meridian cannot match", () => {
  it("refuses a port-less VRRP entry, naming the protocol and the missing port", () => {
    const result = importCiliumYaml(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: vrrp, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: lb } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: lb } }]
    toPorts:
    - ports:
      - protocol: VRRP
`);
    expect(result.objects).toEqual([]);
    expect(result.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      "spec.ingress[0].toPorts[0].ports[0].port: port is missing: give a port number (0 for every port) or a container port name",
      'spec.ingress[0].toPorts[0].ports[0].protocol: protocol "VRRP" is not one of TCP, UDP, SCTP, ICMP, ICMPv6, ANY',
    ]);
  });
});

describe("named ports", () => {
  // Cilium's connectivity test policy (echo-ingress-l7-http-named-port.yaml), without its L7 rules.
  const NAMED = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: echo-ingress-named-port
  namespace: cilium-test-1
spec:
  endpointSelector:
    matchLabels:
      kind: echo
  ingress:
  - fromEndpoints:
    - matchLabels:
        kind: client
    toPorts:
    - ports:
      - port: http-8080
        protocol: TCP
`;

  it("are imported as they are, exported back, and resolved by the compiler against endpoint ports", () => {
    const result = importCiliumYaml(NAMED);
    expect(result.errors).toEqual([]);
    expect(result.unsupported).toEqual([]);
    const spec = result.objects[0]!.spec as SnapshotPolicy["spec"];
    expect(spec.ingress![0]!.toPorts).toEqual([{ ports: [{ port: "http-8080", protocol: "TCP" }] }]);
    // The export writes the name back, as Cilium's CRD accepts it.
    expect(exportCiliumYaml(result.objects).yaml).toContain("port: http-8080");
    const echo = {
      ...DB,
      labels: { kind: "echo" },
      ports: [{ name: "http-8080", port: 8080, protocol: "TCP" as const }],
    };
    const client = { ...WEB, labels: { kind: "client" } };
    const snapshot = cluster({
      endpoints: [
        client,
        { ...echo, namespace: "cilium-test-1", id: "cilium-test-1/echo" },
        { ...client, namespace: "cilium-test-1", id: "cilium-test-1/client", identity: 1010 },
      ],
      identities: [],
      policies: [
        {
          id: "p",
          name: result.objects[0]!.name,
          namespace: "cilium-test-1",
          enabled: true,
          version: 1,
          spec,
        },
      ],
    });
    const ask = (port: number) =>
      whatIf(snapshot, {
        source: "cilium-test-1/client",
        destination: { endpoint: "cilium-test-1/echo" },
        port,
        protocol: "TCP",
      }).verdict;
    expect([ask(8080), ask(80)]).toEqual(["allow", "deny"]);
  });
});
