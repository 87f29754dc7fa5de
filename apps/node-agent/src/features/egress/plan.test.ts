// From a node's desired state to the egress map contents: a source node steers its selected pods'
// CIDRs (excluded ones marked) to the active gateway; the active gateway translates every source
// pod; no gateway, or no address of a family, means drop; two policies never share an entry.

import { desiredEndpoint } from "@meridian/model/testing";
import { describe, expect, it } from "vitest";
import { type EgressPolicyState, egressPolicyId, planEgress } from "./plan";

const endpoints = [
  desiredEndpoint({ namespace: "shop", name: "web", identity: 300, ipv4: "10.1.0.10", ipv6: "fd00:1::10" }),
  desiredEndpoint({ namespace: "shop", name: "db", identity: 301, ipv4: "10.1.0.11" }),
];

function policy(over: Partial<EgressPolicyState> = {}): EgressPolicyState {
  return {
    policy: "partner",
    isSource: true,
    isGateway: false,
    localSourceEndpoints: ["shop/web"],
    sourceIPs: [],
    destinationCIDRs: ["203.0.113.0/24"],
    excludedCIDRs: ["203.0.113.128/25"],
    gateways: [
      { node: "n2", nodeIP: "192.168.0.2", egressIP: "192.168.0.2", active: true },
      { node: "n3", nodeIP: "192.168.0.3", egressIP: "192.168.0.2", active: false },
    ],
    ha: { healthCheckIntervalMs: 200, healthCheckTimeoutMs: 600, maxActiveGateways: 1 },
    ...over,
  };
}

const ctx = (nodeName: string, ifaces: Record<string, string[]> = { eth0: ["192.168.0.2"] }) => ({
  nodeName,
  interfaceAddresses: (n: string) => ifaces[n] ?? [],
  interfaceOf: (ip: string) => Object.keys(ifaces).find((n) => ifaces[n]?.includes(ip)),
});

describe("planEgress", () => {
  it("source node: the selected pod's IPv4 address to each CIDR, excluded marked, steered to the active gateway", () => {
    const id = egressPolicyId("partner");
    const plan = planEgress([policy()], endpoints, ctx("n1"));
    expect(plan.state.entries).toEqual([
      { source: "10.1.0.10", destination: "203.0.113.0/24", policyId: id, excluded: false },
      { source: "10.1.0.10", destination: "203.0.113.128/25", policyId: id, excluded: true },
    ]);
    expect(plan.state.gateways).toEqual([
      { policyId: id, family: 4, mode: "remote", nexthop: "192.168.0.2" },
    ]);
    expect(plan.policies[0]).toMatchObject({
      role: "source",
      mode: { ipv4: "steer", ipv6: null },
      activeGateway: "n2",
      egressIP: "192.168.0.2",
      selectedLocalPods: ["shop/web"],
      problems: [],
    });
  });

  it("active gateway: every source address of the policy, translated to the egress IP", () => {
    const plan = planEgress(
      [
        policy({
          isSource: false,
          isGateway: true,
          localSourceEndpoints: [],
          sourceIPs: ["10.1.0.10", "10.2.0.20"],
        }),
      ],
      endpoints,
      ctx("n2"),
    );
    expect(plan.state.entries.map((e) => `${e.source} ${e.destination} ${e.excluded}`)).toEqual([
      "10.1.0.10 203.0.113.0/24 false",
      "10.1.0.10 203.0.113.128/25 true",
      "10.2.0.20 203.0.113.0/24 false",
      "10.2.0.20 203.0.113.128/25 true",
    ]);
    expect(plan.state.gateways).toEqual([
      { policyId: egressPolicyId("partner"), family: 4, mode: "local", egressIP: "192.168.0.2" },
    ]);
    expect(plan.policies[0]).toMatchObject({ role: "gateway", mode: { ipv4: "snat" }, uplink: "eth0" });
  });

  it("a standby gateway with local pods steers them to the active one", () => {
    const plan = planEgress([policy({ isGateway: true, sourceIPs: ["10.1.0.10"] })], endpoints, ctx("n3"));
    expect(plan.state.gateways[0]).toMatchObject({ mode: "remote", nexthop: "192.168.0.2" });
    expect(plan.policies[0]?.role).toBe("source+gateway");
    // Its uplink programs stay: what it translated while active is still translated.
    expect(plan.policies[0]?.uplink).toBe("eth0");
  });

  it("egress IP from the gateway's interface, of the right family; IPv6 CIDRs use the pod's IPv6 address", () => {
    const gw = { node: "n2", nodeIP: "192.168.0.2", interface: "eth1", active: true };
    const plan = planEgress(
      [
        policy({
          isGateway: true,
          sourceIPs: ["10.1.0.10", "fd00:1::10"],
          destinationCIDRs: ["203.0.113.0/24", "2001:db8::/32"],
          excludedCIDRs: [],
          gateways: [gw],
        }),
      ],
      endpoints,
      ctx("n2", { eth1: ["198.51.100.9", "2001:db8:ff::9"] }),
    );
    expect(plan.state.gateways.map((g) => [g.family, g.mode, g.egressIP])).toEqual([
      [4, "local", "198.51.100.9"],
      [6, "local", "2001:db8:ff::9"],
    ]);
    expect(plan.state.entries.map((e) => `${e.source} ${e.destination}`)).toEqual([
      "10.1.0.10 203.0.113.0/24",
      "fd00:1::10 2001:db8::/32",
    ]);
  });

  it("an egress IP on no interface of the gateway: not translated here, the next gateway takes it, and it says so", () => {
    const alone = planEgress(
      [policy({ isGateway: true, sourceIPs: ["10.1.0.10"], gateways: [policy().gateways[0]!] })],
      endpoints,
      ctx("n2", {}),
    );
    expect(alone.state.gateways[0]).toMatchObject({ mode: "none" });
    expect(alone.policies[0]?.problems).toEqual([
      "egress IP 192.168.0.2 is on no interface of this node: IPv4 traffic is not translated",
    ]);
    const plan = planEgress(
      [policy({ isGateway: true, sourceIPs: ["10.1.0.10"] })],
      endpoints,
      ctx("n2", {}),
    );
    expect(plan.state.gateways[0]).toEqual({
      policyId: egressPolicyId("partner"),
      family: 4,
      mode: "remote",
      nexthop: "192.168.0.3",
    });
    expect(plan.policies[0]).toMatchObject({
      activeGateway: "n3",
      intendedGateway: "n2",
      cannotServe: "egress IP 192.168.0.2 is on no interface of this node: IPv4 traffic is not translated",
    });
  });

  it("failover: the first healthy gateway of the control plane's order takes new connections; none healthy drops", () => {
    const id = egressPolicyId("partner");
    const down = new Set(["n2"]);
    const health = {
      ...ctx("n1"),
      healthy: (_p: string, g: { node: string }) =>
        down.has(g.node) ? { healthy: false, reason: "timeout" } : { healthy: true },
    };
    const failed = planEgress([policy()], endpoints, health);
    expect(failed.state.gateways).toEqual([
      { policyId: id, family: 4, mode: "remote", nexthop: "192.168.0.3" },
    ]);
    expect(failed.policies[0]).toMatchObject({
      activeGateway: "n3",
      intendedGateway: "n2",
      gateways: [
        { node: "n2", healthy: false, reason: "timeout" },
        { node: "n3", healthy: true },
      ],
      problems: [],
    });
    down.add("n3");
    const all = planEgress([policy()], endpoints, health);
    expect(all.state.gateways).toEqual([{ policyId: id, family: 4, mode: "none" }]);
    expect(all.policies[0]?.problems).toEqual(["all gateways are down: matching traffic is dropped"]);
    down.clear();
    expect(planEgress([policy()], endpoints, health).policies[0]?.activeGateway).toBe("n2");
  });

  it("a standby gateway keeps its egress IP with translate; its own uplink down hands the policy on", () => {
    const id = egressPolicyId("partner");
    const gws = [
      { node: "n2", nodeIP: "192.168.0.2", active: true },
      { node: "n3", nodeIP: "192.168.0.3", active: false },
    ];
    const standby = planEgress(
      [policy({ isGateway: true, sourceIPs: ["10.1.0.10"], gateways: gws })],
      endpoints,
      ctx("n3", { eth0: ["192.168.0.3"] }),
    );
    expect(standby.state.gateways).toEqual([
      {
        policyId: id,
        family: 4,
        mode: "remote",
        nexthop: "192.168.0.2",
        egressIP: "192.168.0.3",
        translate: true,
      },
    ]);
    expect(standby.policies[0]?.uplink).toBe("eth0");
    const uplinkDown = planEgress(
      [policy({ isGateway: true, sourceIPs: ["10.1.0.10"], gateways: gws })],
      endpoints,
      { ...ctx("n2"), linkUp: () => false },
    );
    expect(uplinkDown.state.gateways).toEqual([
      { policyId: id, family: 4, mode: "remote", nexthop: "192.168.0.3" },
    ]);
    expect(uplinkDown.policies[0]).toMatchObject({ cannotServe: "uplink eth0 is down", activeGateway: "n3" });
  });

  it("no active gateway, or no gateway address of a family: drop, with the reason", () => {
    const none = planEgress(
      [policy({ gateways: [{ node: "n2", nodeIP: "192.168.0.2", active: false }] })],
      endpoints,
      ctx("n1"),
    );
    expect(none.state.gateways[0]).toMatchObject({ mode: "none" });
    expect(none.state.entries).toHaveLength(2); // still matched, so the datapath drops, not leaks
    expect(none.policies[0]).toMatchObject({ mode: { ipv4: "drop" }, activeGateway: null });
    expect(none.policies[0]?.problems).toEqual(["no active gateway: matching traffic is dropped"]);
    const v6 = planEgress(
      [policy({ destinationCIDRs: ["2001:db8::/32"], excludedCIDRs: [] })],
      endpoints,
      ctx("n1"),
    );
    expect(v6.state.gateways).toEqual([{ policyId: egressPolicyId("partner"), family: 6, mode: "none" }]);
    expect(v6.policies[0]?.problems[0]).toMatch(/no healthy gateway has an IPv6 node address/);
  });

  it("a selected pod the state has no address for is reported missing, not written", () => {
    const plan = planEgress([policy({ localSourceEndpoints: ["shop/gone"] })], endpoints, ctx("n1"));
    expect(plan.state.entries).toEqual([]);
    expect(plan.policies[0]).toMatchObject({ selectedLocalPods: [], missingLocalPods: ["shop/gone"] });
  });

  it("two policies for the same pod and CIDR: the first by name holds it, the other says so", () => {
    const plan = planEgress([policy({ policy: "b" }), policy({ policy: "a" })], endpoints, ctx("n1"));
    const ids = new Set(plan.state.entries.map((e) => e.policyId));
    expect([...ids]).toEqual([egressPolicyId("a")]);
    expect(plan.policies.find((p) => p.policy === "b")?.problems[0]).toMatch(/policy a holds it/);
  });

  it("policy ids are stable, non-zero and differ between names", () => {
    expect(egressPolicyId("partner")).toBe(egressPolicyId("partner"));
    expect(egressPolicyId("partner")).not.toBe(egressPolicyId("partners"));
    expect(egressPolicyId("")).toBeGreaterThan(0);
  });
});
