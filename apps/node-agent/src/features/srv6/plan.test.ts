// Desired state + endpoints + BGP VPN routes → SRv6 map state, and the feature writing it into a
// real pinned datapath (all or nothing, last good state kept).
import { PinnedDatapath } from "@meridian/node-agent/datapath/index";
import { afterAll, describe, expect, it } from "vitest";
import { Srv6Kernel } from "./kernel";
import { type PlanVpnRoute, planSrv6, type Srv6Section } from "./plan";

const section: Srv6Section = {
  locators: [{ pool: "p", locator: "fc00:0:1::/48" }],
  vrfs: [
    {
      name: "red",
      vrfID: 10,
      behavior: "End.DT4",
      encapMode: "HEncapsRed",
      sid: "fc00:0:1:a::",
      importRouteTargets: ["65000:10"],
      memberEndpoints: ["c1/eth0", "gone/eth0"],
    },
    {
      name: "blue",
      vrfID: 20,
      behavior: "End.DT46",
      encapMode: "HEncaps",
      sid: "fc00:0:1:14::",
      importRouteTargets: ["65000:20"],
      memberEndpoints: ["c2/eth0"],
    },
  ],
  policies: [{ name: "s", vrf: "red", vrfID: 10, destination: "192.168.50.0/24", segments: ["fc00:0:9::1"] }],
};
const eps: Record<string, { ifindex: number; addresses: string[] }> = {
  "c1/eth0": { ifindex: 31, addresses: ["10.1.0.10"] },
  "c2/eth0": { ifindex: 32, addresses: ["10.1.0.10", "fd00:1::10"] },
};
const routes: PlanVpnRoute[] = [
  {
    peer: "pe1",
    family: "vpnv4",
    routeTargets: ["65000:10"],
    prefix: "192.168.50.0/24",
    sid: "fc00:0:2:e::",
    stale: false,
  },
  {
    peer: "pe1",
    family: "vpnv4",
    routeTargets: ["65000:10"],
    prefix: "192.168.60.0/24",
    sid: "fc00:0:2:e::",
    stale: false,
  },
  {
    peer: "pe1",
    family: "vpnv4",
    routeTargets: ["65000:99"],
    prefix: "192.168.70.0/24",
    sid: "fc00:0:2:e::",
    stale: false,
  },
  { peer: "pe2", family: "vpnv4", routeTargets: ["65000:20"], prefix: "192.168.60.0/24", stale: false },
];

describe("planSrv6", () => {
  const plan = planSrv6(section, (r) => eps[r], routes);
  it("SIDs per VRF, members by veth (same address in two VRFs), unknown members listed", () => {
    expect(plan.state.sids).toEqual([
      { sid: "fc00:0:1:a::", vrfId: 10, behavior: "End.DT4" },
      { sid: "fc00:0:1:14::", vrfId: 20, behavior: "End.DT46" },
    ]);
    expect(plan.state.members.map((m) => [m.vrfId, m.ifindex, m.address, m.destinations[0]])).toEqual([
      [10, 31, "10.1.0.10", "0.0.0.0/0"],
      [20, 32, "10.1.0.10", "0.0.0.0/0"],
      [20, 32, "fd00:1::10", "::/0"],
    ]);
    expect(plan.missingMembers).toEqual(["gone/eth0"]);
    expect(plan.state.source).toBe("fc00:0:1::1");
  });
  it("static beats BGP for the same prefix; only matching import RTs; routes without a SID skipped", () => {
    expect(plan.policies).toEqual([
      { vrf: "red", destination: "192.168.50.0/24", segments: ["fc00:0:9::1"], source: "static" },
      { vrf: "red", destination: "192.168.60.0/24", segments: ["fc00:0:2:e::"], source: "bgp", peer: "pe1" },
    ]);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      "VRF red: a static policy or an earlier route holds it",
      "no SRv6 SID",
    ]);
    expect(plan.state.policies.map((p) => p.mode)).toEqual(["HEncapsRed", "HEncapsRed"]);
  });
  it("exports each member pod's addresses as host routes of VRFs with export RTs and an RD", () => {
    const vrfs = section.vrfs.map((v) => ({
      ...v,
      routeDistinguisher: v.name === "red" ? "65000:10" : undefined,
      exportRouteTargets: [v.name === "red" ? "65000:110" : "65000:120"],
    }));
    vrfs.push({ ...vrfs[1]!, name: "green", vrfID: 30, exportRouteTargets: [], routeDistinguisher: "1:1" });
    const exp = planSrv6({ ...section, vrfs }, (r) => eps[r], []);
    expect(exp.exported).toEqual([
      {
        vrf: "red",
        prefix: "10.1.0.10/32",
        routeDistinguisher: "65000:10",
        routeTargets: ["65000:110"],
        sid: "fc00:0:1:a::",
        behavior: "End.DT4",
      },
    ]);
    // blue has export RTs and no RD; green exports nothing and says nothing (no export RTs).
    expect(exp.exportSkipped).toEqual([
      { vrf: "blue", reason: "export route targets but no route distinguisher" },
    ]);
    // An End.DT46 VRF advertises both families; a DT4 one skips a member's IPv6 address.
    const both = planSrv6(
      { ...section, vrfs: vrfs.map((v) => ({ ...v, routeDistinguisher: "65000:1" })) },
      (r) => (r === "c1/eth0" ? { ifindex: 31, addresses: ["10.1.0.10", "fd00:1::11"] } : eps[r]),
      [],
    );
    expect(both.exported.map((r) => `${r.vrf} ${r.prefix}`)).toEqual([
      "red 10.1.0.10/32",
      "blue 10.1.0.10/32",
      "blue fd00:1::10/128",
    ]);
  });
  it("a BGP policy records the peer, RD and whether graceful restart holds it stale", () => {
    const p = planSrv6(section, (r) => eps[r], [{ ...routes[1]!, rd: "65020:7", stale: true }]).policies;
    expect(p[1]).toEqual({
      vrf: "red",
      destination: "192.168.60.0/24",
      segments: ["fc00:0:2:e::"],
      source: "bgp",
      peer: "pe1",
      rd: "65020:7",
      stale: true,
    });
  });
  it("a withdrawn route disappears from the next plan", () => {
    const next = planSrv6(section, (r) => eps[r], routes.slice(0, 1));
    expect(next.policies.filter((p) => p.source === "bgp")).toEqual([]);
  });
});

describe("writing the plan into pinned maps", () => {
  const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-srv6plan`;
  const dp = PinnedDatapath.load({ pinDir });
  const k = Srv6Kernel.open(pinDir);
  afterAll(() => {
    k.close();
    dp.close();
    PinnedDatapath.destroy(pinDir);
  });
  it("applies, reads back, and a bad state changes nothing", () => {
    const plan = planSrv6(section, (r) => eps[r], routes);
    expect(k.apply(plan.state).written).toBe(2 + 3 + 2 + 3);
    expect(k.apply(plan.state)).toEqual({ written: 0, removed: 0 });
    const got = k.read();
    expect(got.policies.map((p) => [p.vrfId, p.destination, p.source])).toEqual(
      expect.arrayContaining([
        [10, "192.168.50.0/24", "static"],
        [10, "192.168.60.0/24", "bgp"],
      ]),
    );
    const bad = planSrv6(section, (r) => eps[r], []);
    bad.state.sids.push({ sid: "not-an-address", vrfId: 1, behavior: "End.DT4" });
    expect(() => k.apply(bad.state)).toThrow();
    expect(k.read()).toEqual(got);
    // Withdrawal: the BGP policy goes, the static stays.
    expect(k.apply(planSrv6(section, (r) => eps[r], []).state)).toEqual({ written: 0, removed: 1 });
  });
});
