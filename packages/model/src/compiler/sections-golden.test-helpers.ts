// One fixed cluster that exercises every section of the desired state: policies with CIDR,
// port-range, DNS and FQDN rules and a deny, an egress gateway, BGP with VPN families and a
// duplicate peer address, SRv6 with a VRF ID too wide for the function bits (it gets an allocated
// function instead) and a pool too small for all three nodes (so both kinds of problem appear).
import {
  bgpAdvertisement,
  bgpInstance,
  bgpPeer,
  CLIENT,
  cluster,
  DB,
  egressPolicy,
  locatorPool,
  policy,
  vrf,
  WEB,
  withSrv6Allocations,
} from "../../testing/cluster";
import type { ClusterSnapshot } from "./snapshot";

export function goldenCluster(): ClusterSnapshot {
  const blueWeb = { ...WEB, labels: { ...WEB.labels, vrf: "blue" } };
  const blueDb = { ...DB, labels: { ...DB.labels, vrf: "blue" } };
  const base = cluster();
  const endpoints = [
    blueWeb,
    CLIENT,
    blueDb,
    ...base.endpoints.filter((e) => ![WEB.id, CLIENT.id, DB.id].includes(e.id)),
  ];
  return withSrv6Allocations(
    cluster({
      endpoints,
      identities: endpoints.map((ep) => ({ id: ep.identity, labels: ep.labels })),
      policies: [
        policy("db-allow-web", "prod", {
          endpointSelector: { matchLabels: { app: "db" } },
          ingress: [
            {
              fromEndpoints: [{ matchLabels: { app: "web" } }],
              toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
            },
          ],
          ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: "client" } }] }],
        }),
        policy("web-out", "prod", {
          endpointSelector: { matchLabels: { app: "web" } },
          egress: [
            { toCIDRSet: [{ cidr: "172.16.0.0/12", except: ["172.20.0.0/16"] }] },
            { toPorts: [{ ports: [{ port: 8000, endPort: 8100, protocol: "TCP" }] }] },
            {
              toEndpoints: [{ matchLabels: { "k8s-app": "kube-dns" } }],
              toPorts: [
                { ports: [{ port: "53", protocol: "UDP" }], rules: { dns: [{ matchPattern: "*" }] } },
              ],
            },
            {
              toFQDNs: [{ matchName: "api.example.com" }],
              toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }],
            },
          ],
        }),
        policy("all-db", null, {
          endpointSelector: { matchLabels: { app: "db" } },
          ingress: [{ fromEntities: ["cluster"] }],
        }),
        policy("off", "prod", { endpointSelector: {}, ingress: [{ fromEntities: ["world"] }] }, false),
      ],
      egressPolicies: [
        egressPolicy("gw", {
          selectors: [{ podSelector: { matchLabels: { app: "client" } } }],
          destinationCIDRs: ["0.0.0.0/0"],
          excludedCIDRs: ["10.0.0.0/8"],
          gateways: [{ nodeName: "n2", egressIP: "192.168.0.200" }],
          // The HA defaults at the time the golden hashes were taken (they are 100/400 ms now).
          ha: { healthCheckIntervalMs: 1000, healthCheckTimeoutMs: 3000, maxActiveGateways: 1 },
          advertiseEgressIP: true,
        }),
      ],
      bgpInstances: [bgpInstance("tor", { nodeSelector: { matchLabels: { bgp: "yes" } }, localASN: 65001 })],
      bgpPeers: [
        bgpPeer(
          "tor-a",
          {
            instance: "tor",
            address: "192.168.0.1",
            peerASN: 65000,
            families: ["ipv4-unicast", "vpnv4"],
            holdTimeSeconds: 9,
          },
          "secret/tor-a",
        ),
        bgpPeer("tor-b", { instance: "tor", address: "fd00::1", peerASN: 65000, labels: { role: "backup" } }),
        // Same address as tor-a: a problem, not a second session.
        bgpPeer("tor-dup", { instance: "tor", address: "192.168.0.1", peerASN: 65002 }),
      ],
      bgpAdvertisements: [
        bgpAdvertisement("pods", {
          type: "PodCIDR",
          communities: ["65001:100", "no-export"],
          localPreference: 200,
        }),
        bgpAdvertisement("lb", {
          type: "Service",
          service: {
            selector: { matchLabels: { expose: "bgp" } },
            addresses: ["LoadBalancerIP"],
            aggregate: true,
          },
          peers: ["tor-a"],
        }),
        bgpAdvertisement("egress", { type: "EgressIP" }),
      ],
      services: [
        {
          namespace: "prod",
          name: "web",
          labels: { expose: "bgp" },
          clusterIPs: ["10.96.0.10"],
          loadBalancerIPs: ["203.0.113.0", "203.0.113.1"],
          externalIPs: [],
        },
      ],
      srv6LocatorPools: [
        locatorPool("main", {
          prefix: "fd00:aa::/32",
          locatorLength: 48,
          structure: { locatorBlockLength: 32, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
        }),
        locatorPool("tiny", {
          prefix: "fd00:cc::/47",
          locatorLength: 48,
          structure: { locatorBlockLength: 47, locatorNodeLength: 1, functionLength: 16 },
        }),
      ],
      srv6Vrfs: [
        vrf("blue", {
          vrfID: 10,
          locatorPool: "main",
          routeDistinguisher: "65001:10",
          importRouteTargets: ["65001:10"],
          exportRouteTargets: ["65001:10"],
          memberSelector: { matchLabels: { vrf: "blue" } },
          behavior: "End.DT4",
        }),
        vrf("wide", {
          vrfID: 70000,
          locatorPool: "main",
          importRouteTargets: ["65001:70"],
          exportRouteTargets: ["65001:70"],
          memberSelector: { matchLabels: { vrf: "blue" } },
          behavior: "End.DT4",
        }),
      ],
      srv6Policies: [
        {
          id: "p1",
          name: "to-site",
          spec: { vrf: "blue", destination: "10.200.0.0/16", segments: ["fd00:bb:1::a"] },
        },
      ],
    }),
  );
}
