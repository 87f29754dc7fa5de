import { describe, expect, it } from "vitest";
import {
  bgpAdvertisement,
  bgpInstance,
  bgpPeer,
  cluster,
  DB,
  egressPolicy,
  endpoint,
  locatorPool,
  vrf,
  WEB,
  withSrv6Allocations,
} from "../../testing/cluster";
import { compileNodeState, type SnapshotService } from "./index";

const services: SnapshotService[] = [
  {
    namespace: "prod",
    name: "web",
    labels: { expose: "bgp" },
    clusterIPs: ["10.96.0.10"],
    loadBalancerIPs: ["203.0.113.0", "203.0.113.1"],
    externalIPs: [],
  },
  {
    namespace: "prod",
    name: "internal",
    labels: {},
    clusterIPs: ["10.96.0.11"],
    loadBalancerIPs: ["203.0.113.9"],
    externalIPs: [],
  },
];

const bgp = {
  bgpInstances: [bgpInstance("tor", { nodeSelector: { matchLabels: { bgp: "yes" } }, localASN: 65001 })],
  bgpPeers: [
    bgpPeer(
      "tor-a",
      {
        instance: "tor",
        address: "192.168.0.1",
        peerASN: 65000,
        families: ["ipv4-unicast"],
        holdTimeSeconds: 9,
      },
      "secret/tor-a",
    ),
    bgpPeer("tor-b", { instance: "tor", address: "fd00::1", peerASN: 65000, labels: { role: "backup" } }),
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
  ],
  services,
};

describe("BGP", () => {
  it("configures only nodes the instance selects", () => {
    expect(compileNodeState(cluster(bgp), "n2").bgp.instances).toEqual([]);
    expect(compileNodeState(cluster(bgp), "n1").bgp.instances.map((i) => i.name)).toEqual(["tor"]);
  });

  it("derives router ID and keepalive, and passes a password reference instead of the password", () => {
    const [inst] = compileNodeState(cluster(bgp), "n1").bgp.instances;
    expect(inst!.routerID).toBe("192.168.0.11");
    const peer = inst!.peers.find((p) => p.name === "tor-a")!;
    expect(peer).toMatchObject({
      holdTimeSeconds: 9,
      keepaliveSeconds: 3,
      hasPassword: true,
      passwordRef: "secret/tor-a",
      port: 179,
    });
    expect(JSON.stringify(inst)).not.toContain('password"');
  });

  it("resolves PodCIDRs per the peer's families, with communities and local preference", () => {
    const [inst] = compileNodeState(cluster(bgp), "n1").bgp.instances;
    const torA = inst!.peers.find((p) => p.name === "tor-a")!;
    const torB = inst!.peers.find((p) => p.name === "tor-b")!;
    expect(torA.routes.filter((r) => r.advertisement === "pods")).toEqual([
      {
        prefix: "10.1.1.0/24",
        advertisement: "pods",
        communities: ["65001:100", "no-export"],
        largeCommunities: [],
        localPreference: 200,
      },
    ]);
    expect(torB.routes.map((r) => r.prefix)).toEqual(["10.1.1.0/24", "fd00:1:1::/64"]);
  });

  it("aggregates selected service VIPs and sends them only to the named peers", () => {
    const [inst] = compileNodeState(cluster(bgp), "n1").bgp.instances;
    const torA = inst!.peers.find((p) => p.name === "tor-a")!;
    expect(torA.routes.filter((r) => r.advertisement === "lb").map((r) => r.prefix)).toEqual([
      "203.0.113.0/31",
    ]);
    expect(inst!.peers.find((p) => p.name === "tor-b")!.routes.some((r) => r.advertisement === "lb")).toBe(
      false,
    );
  });

  it("advertises host routes for each VIP without aggregation", () => {
    const plain = bgpAdvertisement("lb", {
      type: "Service",
      service: { selector: {}, addresses: ["LoadBalancerIP", "ClusterIP"] },
      peers: ["tor-a"],
    });
    const [inst] = compileNodeState(cluster({ ...bgp, bgpAdvertisements: [plain] }), "n1").bgp.instances;
    expect(inst!.peers.find((p) => p.name === "tor-a")!.routes.map((r) => r.prefix)).toEqual([
      "10.96.0.10/32",
      "10.96.0.11/32",
      "203.0.113.0/32",
      "203.0.113.1/32",
      "203.0.113.9/32",
    ]);
  });

  it("advertises an egress IP only from its active gateway", () => {
    const gw = egressPolicy("gw", {
      selectors: [{ podSelector: {} }],
      destinationCIDRs: ["0.0.0.0/0"],
      gateways: [{ nodeName: "n1", egressIP: "192.168.0.200" }],
      advertiseEgressIP: true,
    });
    const ad = bgpAdvertisement("egress", { type: "EgressIP" });
    const [inst] = compileNodeState(cluster({ ...bgp, bgpAdvertisements: [ad], egressPolicies: [gw] }), "n1")
      .bgp.instances;
    expect(inst!.peers.find((p) => p.name === "tor-a")!.routes.map((r) => r.prefix)).toEqual([
      "192.168.0.200/32",
    ]);
  });
});

describe("SRv6", () => {
  const pool = locatorPool("main", {
    prefix: "fd00:aa::/32",
    locatorLength: 48,
    structure: { locatorBlockLength: 32, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
  });
  const blue = vrf("blue", {
    vrfID: 10,
    locatorPool: "main",
    routeDistinguisher: "65001:10",
    importRouteTargets: ["65001:10"],
    exportRouteTargets: ["65001:10"],
    memberSelector: { matchLabels: { vrf: "blue" } },
    behavior: "End.DT4",
  });
  const blueWeb = { ...WEB, labels: { ...WEB.labels, vrf: "blue" } };
  const blueDb = { ...DB, labels: { ...DB.labels, vrf: "blue" } };
  const srv6 = (extra = {}) =>
    withSrv6Allocations(
      cluster({
        endpoints: [blueWeb, blueDb],
        srv6LocatorPools: [pool],
        srv6Vrfs: [blue],
        srv6Policies: [
          {
            id: "p1",
            name: "to-site",
            spec: { vrf: "blue", destination: "10.200.0.0/16", segments: ["fd00:bb:1::a"] },
          },
        ],
        ...extra,
      }),
    );

  it("gives each node the locator stored for it; none is derived from the node's position", () => {
    expect(compileNodeState(srv6(), "n1").srv6.locators).toEqual([
      { pool: "main", locator: "fd00:aa::/48", structure: pool.spec.structure },
    ]);
    expect(compileNodeState(srv6(), "n2").srv6.locators[0]!.locator).toBe("fd00:aa:1::/48");
    expect(compileNodeState(srv6(), "n3").srv6.locators[0]!.locator).toBe("fd00:aa:2::/48");
  });

  it("gives each served VRF a SID with the VRF ID in the function bits, and its local members", () => {
    const [v] = compileNodeState(srv6(), "n2").srv6.vrfs;
    expect(v).toEqual({
      name: "blue",
      vrfID: 10,
      behavior: "End.DT4",
      encapMode: "HEncaps",
      sid: "fd00:aa:1:a::",
      routeDistinguisher: "65001:10",
      importRouteTargets: ["65001:10"],
      exportRouteTargets: ["65001:10"],
      memberEndpoints: [DB.id],
    });
  });

  it("leaves out VRFs with no local member, and their static policies", () => {
    const n3 = compileNodeState(srv6(), "n3").srv6;
    expect(n3.vrfs).toEqual([]);
    expect(n3.policies).toEqual([]);
    expect(compileNodeState(srv6(), "n1").srv6.policies).toEqual([
      { name: "to-site", vrf: "blue", vrfID: 10, destination: "10.200.0.0/16", segments: ["fd00:bb:1::a"] },
    ]);
  });

  it("gives a VRF ID too wide for the function field an allocated function instead", () => {
    const wide = vrf("wide", { ...blue.spec, vrfID: 70000 });
    const state = compileNodeState(srv6({ srv6Vrfs: [wide] }), "n1");
    expect(state.srv6.vrfs.map((v) => v.sid)).toEqual(["fd00:aa:0:1::"]);
    expect(state.problems).toEqual([]);
  });

  it("uses the stored slot even when it is not the node's position among the pool's nodes", () => {
    const snapshot = srv6({
      srv6Allocations: {
        locators: [{ node: "n1", pool: "main", slot: 7 }],
        sids: [{ node: "n1", vrf: "blue", pool: "main", function: 0x42 }],
      },
    });
    const n1 = compileNodeState(snapshot, "n1").srv6;
    expect(n1.locators[0]!.locator).toBe("fd00:aa:7::/48");
    expect(n1.vrfs[0]!.sid).toBe("fd00:aa:7:42::");
    // The others got the lowest free slots around it.
    expect(compileNodeState(snapshot, "n2").srv6.locators[0]!.locator).toBe("fd00:aa::/48");
    expect(compileNodeState(snapshot, "n3").srv6.locators[0]!.locator).toBe("fd00:aa:1::/48");
  });

  it("reports a pool that is full on the node left without a locator, naming the field", () => {
    const tiny = locatorPool("tiny", {
      prefix: "fd00:cc::/47",
      locatorLength: 48,
      structure: { locatorBlockLength: 47, locatorNodeLength: 1, functionLength: 16 },
    });
    const state = compileNodeState(srv6({ srv6LocatorPools: [tiny], srv6Vrfs: [] }), "n3");
    expect(state.problems).toEqual([
      {
        area: "srv6",
        object: "tiny",
        message:
          "pool tiny is full: spec.locatorLength gives 2 /48 locators under fd00:cc::/47 and all are held by other nodes; node n3 has no locator",
      },
    ]);
  });

  it("reports a locator with no SID left for a VRF, naming structure.functionLength", () => {
    const narrow = locatorPool("main", {
      ...pool.spec,
      structure: { ...pool.spec.structure, locatorNodeLength: 16, functionLength: 1 },
    });
    const red = vrf("red", { ...blue.spec, vrfID: 20 });
    const state = compileNodeState(srv6({ srv6LocatorPools: [narrow], srv6Vrfs: [blue, red] }), "n2");
    expect(state.srv6.vrfs.map((v) => [v.name, v.sid])).toEqual([["blue", "fd00:aa:1:8000::"]]);
    expect(state.problems).toEqual([
      {
        area: "srv6",
        object: "red",
        message:
          "locator fd00:aa:1::/48 of node n2 is full: pool main's structure.functionLength 1 gives 1 SIDs and all are held by other VRFs; VRF red has no SID",
      },
    ]);
  });

  it("serves a static SID inside the node's locator, and flags one outside it naming the field", () => {
    const fixed = vrf("blue", {
      ...blue.spec,
      staticSids: [
        { node: "n1", sid: "fd00:aa:0:beef::" },
        { node: "n2", sid: "fd00:aa:7:beef::" },
      ],
    });
    const snapshot = srv6({ srv6Vrfs: [fixed] });
    expect(compileNodeState(snapshot, "n1").srv6.vrfs.map((v) => v.sid)).toEqual(["fd00:aa:0:beef::"]);
    const n2 = compileNodeState(snapshot, "n2");
    expect(n2.srv6.vrfs).toEqual([]);
    expect(n2.problems).toEqual([
      {
        area: "srv6",
        object: "blue",
        message:
          "VRF blue staticSids.1.sid: static SID fd00:aa:7:beef:: is outside node n2's locator fd00:aa:1::/48",
      },
    ]);
  });

  it("advertises VRF member routes as VPN routes with RD, route targets and SID", () => {
    const vpnPeer = bgpPeer("pe", {
      instance: "tor",
      address: "192.168.0.1",
      peerASN: 65000,
      families: ["vpnv4"],
    });
    const state = compileNodeState(
      srv6({
        bgpInstances: bgp.bgpInstances,
        bgpPeers: [vpnPeer],
        bgpAdvertisements: [bgpAdvertisement("vpn", { type: "VRFRoutes", vrfs: ["blue"] })],
        endpoints: [blueWeb, blueDb, endpoint("prod/x", "n1", "prod", { vrf: "red" }, "10.1.1.99", 1010)],
      }),
      "n1",
    );
    expect(state.bgp.instances[0]!.peers[0]!.routes).toEqual([
      {
        prefix: "10.1.1.10/32",
        advertisement: "vpn",
        communities: [],
        largeCommunities: [],
        vrf: "blue",
        routeDistinguisher: "65001:10",
        routeTargets: ["65001:10"],
        sid: "fd00:aa:0:a::",
      },
    ]);
  });
});
