import { describe, expect, it } from "vitest";
import {
  bgpAdvertisementSpecSchema,
  bgpPeerSpecSchema,
  egressGatewayPolicySpecSchema,
  egressIpProblems,
  findDuplicateVrfIds,
  findLocatorPoolOverlaps,
  findPodCidrOverlaps,
  nodeSpecSchema,
  SRV6_MAX_SEGMENTS,
  srv6LocatorPoolSpecSchema,
  srv6PolicySpecSchema,
  srv6VrfSpecSchema,
} from "./index";
import { issuesOf } from "./test-helpers.test-helpers";

describe("egressGatewayPolicySpec", () => {
  const base = {
    selectors: [{ podSelector: { matchLabels: { app: "crm" } } }],
    destinationCIDRs: ["0.0.0.0/0"],
    gateways: [{ nodeSelector: { matchLabels: { egress: "gw" } }, egressIP: "192.168.10.50" }],
  };

  it("fills HA defaults and rejects a timeout shorter than the interval", () => {
    expect(egressGatewayPolicySpecSchema.parse(base).ha).toEqual({
      healthCheckIntervalMs: 100,
      healthCheckTimeoutMs: 400,
      maxActiveGateways: 1,
    });
    expect(
      issuesOf(egressGatewayPolicySpecSchema, {
        ...base,
        ha: { healthCheckIntervalMs: 2000, healthCheckTimeoutMs: 500 },
      }),
    ).toEqual([
      {
        field: "ha.healthCheckTimeoutMs",
        message:
          "healthCheckTimeoutMs must be at least healthCheckIntervalMs, or a gateway flaps between checks",
      },
    ]);
  });

  it("needs one way to pick the gateway node and at most one way to pick its address", () => {
    expect(
      issuesOf(egressGatewayPolicySpecSchema, { ...base, gateways: [{ egressIP: "192.168.10.50" }] }),
    ).toEqual([{ field: "gateways[0]", message: "set exactly one of nodeSelector or nodeName" }]);
    expect(
      issuesOf(egressGatewayPolicySpecSchema, {
        ...base,
        gateways: [{ nodeName: "n1", egressIP: "192.168.10.50", interface: "eth1" }],
      }),
    ).toEqual([{ field: "gateways[0].interface", message: "set egressIP or interface, not both" }]);
  });

  it("bounds gateways[].nodeName (a 1 MB name is refused at the field)", () => {
    const gw = (nodeName: string) => ({ ...base, gateways: [{ nodeName, egressIP: "192.168.10.50" }] });
    expect(issuesOf(egressGatewayPolicySpecSchema, gw("n".repeat(253)))).toEqual([]);
    for (const n of [254, 1_000_000]) {
      expect(issuesOf(egressGatewayPolicySpecSchema, gw("n".repeat(n)))).toEqual([
        { field: "gateways[0].nodeName", message: "a node name is at most 253 characters" },
      ]);
    }
  });

  it("rejects an excluded CIDR outside every destination", () => {
    expect(
      issuesOf(egressGatewayPolicySpecSchema, {
        ...base,
        destinationCIDRs: ["203.0.113.0/24"],
        excludedCIDRs: ["10.0.0.0/8"],
      }),
    ).toEqual([
      { field: "excludedCIDRs[0]", message: "excluded CIDR 10.0.0.0/8 is not inside any destination CIDR" },
    ]);
  });

  it("flags an egress IP that is not in a subnet of the selected gateway nodes", () => {
    const spec = egressGatewayPolicySpecSchema.parse(base);
    const nodes = [
      { name: "gw-1", labels: { egress: "gw" }, addresses: ["192.168.10.11/24"] },
      { name: "gw-2", labels: { egress: "gw" }, addresses: ["172.16.0.12/24"] },
    ];
    expect(egressIpProblems(spec, nodes)).toEqual([
      {
        field: "gateways[0].egressIP",
        message: "egress IP 192.168.10.50 is not inside any address of gateway node(s) gw-2",
      },
    ]);
    expect(egressIpProblems(spec, nodes.slice(0, 1))).toEqual([]);
  });
});

describe("BGP peers", () => {
  const peer = { instance: "tor", address: "192.0.2.1", peerASN: 65000 };

  it("defaults port 179, hold 90 and both unicast families", () => {
    expect(bgpPeerSpecSchema.parse(peer)).toMatchObject({
      port: 179,
      holdTimeSeconds: 90,
      families: ["ipv4-unicast", "ipv6-unicast"],
    });
  });

  it("rejects keepalive not below the hold time, and hold times of 1 or 2 seconds", () => {
    expect(issuesOf(bgpPeerSpecSchema, { ...peer, holdTimeSeconds: 9, keepaliveSeconds: 9 })).toEqual([
      {
        field: "keepaliveSeconds",
        message: "keepalive 9s must be at least 1s and less than the hold time 9s (usually a third)",
      },
    ]);
    expect(issuesOf(bgpPeerSpecSchema, { ...peer, holdTimeSeconds: 2 })).toEqual([
      { field: "holdTimeSeconds", message: "hold time 2 must be 0 or 3..65535 seconds" },
    ]);
    expect(issuesOf(bgpPeerSpecSchema, { ...peer, holdTimeSeconds: 0, keepaliveSeconds: 0 })).toEqual([]);
  });

  it("checks peer ASN, multihop TTL, restart time and families", () => {
    expect(issuesOf(bgpPeerSpecSchema, { ...peer, peerASN: 0 })).toEqual([
      { field: "peerASN", message: "ASN 0 is out of range: must be an integer 1..4294967295" },
    ]);
    expect(issuesOf(bgpPeerSpecSchema, { ...peer, ebgpMultihop: 256 })[0]!.message).toBe(
      "ebgpMultihop TTL must be 1..255",
    );
    expect(
      issuesOf(bgpPeerSpecSchema, {
        ...peer,
        gracefulRestart: { enabled: true, restartTimeSeconds: 5000 },
      })[0]!.message,
    ).toBe("restartTimeSeconds must be at most 4095 (12-bit field)");
    expect(issuesOf(bgpPeerSpecSchema, { ...peer, families: ["l2vpn-evpn"] })[0]!.message).toBe(
      'address family "l2vpn-evpn" is not one of ipv4-unicast, ipv6-unicast, vpnv4, vpnv6',
    );
  });
});

describe("BGP advertisements", () => {
  it("accepts standard, well-known and large communities", () => {
    expect(
      issuesOf(bgpAdvertisementSpecSchema, {
        type: "PodCIDR",
        communities: ["65000:100", "no-export"],
        largeCommunities: ["4200000000:1:2"],
      }),
    ).toEqual([]);
  });

  it("explains malformed communities", () => {
    expect(
      issuesOf(bgpAdvertisementSpecSchema, { type: "PodCIDR", communities: ["65536:1"] })[0],
    ).toMatchObject({ field: "communities[0]" });
    expect(issuesOf(bgpAdvertisementSpecSchema, { type: "PodCIDR", largeCommunities: ["1:2"] })).toEqual([
      {
        field: "largeCommunities[0]",
        message: 'large community "1:2" must be a:b:c with each part 0..4294967295 (e.g. 65000:1:100)',
      },
    ]);
  });

  it("requires service settings for Service advertisements and VRFs for VRF routes", () => {
    expect(issuesOf(bgpAdvertisementSpecSchema, { type: "Service" })[0]!.field).toBe("service");
    expect(issuesOf(bgpAdvertisementSpecSchema, { type: "VRFRoutes", vrfs: [] })).toEqual([
      { field: "vrfs", message: "name at least one VRF" },
    ]);
  });
});

describe("SRv6", () => {
  const pool = {
    prefix: "fd00:aa::/32",
    locatorLength: 48,
    structure: { locatorBlockLength: 32, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
  };

  it("accepts a consistent SID structure", () => {
    expect(issuesOf(srv6LocatorPoolSpecSchema, pool)).toEqual([]);
  });

  it("requires block + node to equal the locator length", () => {
    expect(
      issuesOf(srv6LocatorPoolSpecSchema, {
        ...pool,
        structure: { ...pool.structure, locatorNodeLength: 8 },
      }),
    ).toEqual([
      {
        field: "structure",
        message: "locatorBlockLength 32 + locatorNodeLength 8 must equal locatorLength 48",
      },
    ]);
  });

  it("keeps the whole SID within 128 bits: a function length that does not fit after the locator", () => {
    expect(
      issuesOf(srv6LocatorPoolSpecSchema, {
        ...pool,
        structure: { ...pool.structure, functionLength: 64, argumentLength: 32 },
      }),
    ).toEqual([
      {
        field: "structure.functionLength",
        message:
          "functionLength 64 does not fit after the /48 locator: block + node + function + argument = 144 bits, more than the 128 bits of an IPv6 SID",
      },
    ]);
  });

  it("refuses a locator block longer than the pool prefix (nodes would differ inside it)", () => {
    expect(
      issuesOf(srv6LocatorPoolSpecSchema, {
        ...pool,
        structure: { ...pool.structure, locatorBlockLength: 40, locatorNodeLength: 8 },
      }),
    ).toEqual([
      {
        field: "structure.locatorBlockLength",
        message:
          "locatorBlockLength 40 is longer than the pool prefix /32: nodes' locators would differ inside the block",
      },
    ]);
  });

  it("takes one static SID per node in a VRF", () => {
    const vrf = { vrfID: 10, locatorPool: "main", memberSelector: {} };
    const sid = (node: string, s: string) => ({ node, sid: s });
    expect(issuesOf(srv6VrfSpecSchema, { ...vrf, staticSids: [sid("n1", "fd00:aa:0:a::")] })).toEqual([]);
    expect(
      issuesOf(srv6VrfSpecSchema, {
        ...vrf,
        staticSids: [sid("n1", "fd00:aa:0:a::"), sid("n1", "fd00:aa:0:b::"), sid("N 2", "x")],
      }),
    ).toEqual([
      {
        field: "staticSids[2].node",
        message:
          'a node name is lower-case letters, digits, "-" or ".", starting and ending with a letter or digit',
      },
      { field: "staticSids[2].sid", message: expect.stringContaining("x") },
      { field: "staticSids[1].node", message: "node n1 already has a static SID in this VRF (staticSids.0)" },
    ]);
  });

  it("needs room for node bits and an IPv6 prefix", () => {
    expect(issuesOf(srv6LocatorPoolSpecSchema, { ...pool, prefix: "fd00:aa::/48" })).toContainEqual({
      field: "locatorLength",
      message: "locatorLength 48 must be longer than the pool prefix /48 to leave room for nodes",
    });
    expect(issuesOf(srv6LocatorPoolSpecSchema, { ...pool, prefix: "10.0.0.0/8" })[0]!.message).toContain(
      "expected IPv6",
    );
  });

  it("checks VRF ID range and route target forms", () => {
    const vrf = { vrfID: 10, locatorPool: "main", memberSelector: {} };
    expect(srv6VrfSpecSchema.parse(vrf)).toMatchObject({ behavior: "End.DT46", encapMode: "HEncaps" });
    expect(issuesOf(srv6VrfSpecSchema, { ...vrf, vrfID: 4294967295 })).toEqual([
      { field: "vrfID", message: "vrfID 4294967295 must be 1..4294967294" },
    ]);
    expect(issuesOf(srv6VrfSpecSchema, { ...vrf, exportRouteTargets: ["65000"] })[0]!.field).toBe(
      "exportRouteTargets[0]",
    );
    expect(issuesOf(srv6VrfSpecSchema, { ...vrf, behavior: "End.DX4" })[0]!.field).toBe("behavior");
  });

  it("refuses a segment list longer than the datapath writes (SRV6_MAX_SEGMENTS)", () => {
    expect(SRV6_MAX_SEGMENTS).toBe(4);
    const sids = (n: number) => Array.from({ length: n }, (_, i) => `fd00:bb:${i + 1}::a`);
    const policy = { vrf: "blue", destination: "10.200.0.0/16" };
    expect(issuesOf(srv6PolicySpecSchema, { ...policy, segments: sids(SRV6_MAX_SEGMENTS) })).toEqual([]);
    expect(issuesOf(srv6PolicySpecSchema, { ...policy, segments: sids(SRV6_MAX_SEGMENTS + 1) })).toEqual([
      { field: "segments", message: "at most 4 SIDs in a segment list (the datapath limit)" },
    ]);
  });

  it("finds overlapping locator pools and duplicate VRF IDs", () => {
    expect(
      findLocatorPoolOverlaps([
        { name: "a", spec: { prefix: "fd00:aa::/32" } },
        { name: "b", spec: { prefix: "fd00:aa:1::/48" } },
        { name: "c", spec: { prefix: "fd00:bb::/32" } },
      ]),
    ).toEqual([["a", "b"]]);
    expect([
      ...findDuplicateVrfIds([
        { name: "blue", spec: { vrfID: 10 } },
        { name: "red", spec: { vrfID: 10 } },
        { name: "x", spec: { vrfID: 1 } },
      ]),
    ]).toEqual([[10, ["blue", "red"]]]);
  });
});

describe("nodes", () => {
  it("allows one PodCIDR per family and finds overlaps between nodes", () => {
    expect(issuesOf(nodeSpecSchema, { name: "n1", podCIDRs: ["10.1.0.0/24", "10.2.0.0/24"] })).toEqual([
      { field: "podCIDRs", message: "at most one IPv4 and one IPv6 PodCIDR per node" },
    ]);
    expect(
      findPodCidrOverlaps([
        { name: "n1", podCIDRs: ["10.1.0.0/16"] },
        { name: "n2", podCIDRs: ["10.1.5.0/24", "fd00::/64"] },
        { name: "n3", podCIDRs: ["10.2.0.0/24"] },
      ]),
    ).toEqual([{ nodeA: "n1", cidrA: "10.1.0.0/16", nodeB: "n2", cidrB: "10.1.5.0/24" }]);
  });
});
