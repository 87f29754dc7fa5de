import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RouteView, serviceSid } from "../../src/index.js";
import { type Driver, Lab, sh, startFrr, until } from "../../testing/index.js";
import { mainPeer, startUs, untilEstablished } from "./steps.js";

// FRR 8.4 as the PE of an operator's SRv6 L3VPN: a VRF (a network namespace: `zebra -n`) with a
// connected IPv4 and IPv6 subnet, exported as VPNv4 / VPNv6 routes with SIDs from a /64 locator
// (FRR always signals a 40/24/16 structure, which fits /64) and the function bits transposed into
// the label. These are the routes the agent's SRv6 import takes: we must rebuild the SID FRR
// allocated, with its behavior, route distinguisher and route target.

const lab = new Lab("frrsr", 4);
const vrf = `${lab.tag}-vrfa`;
let us: Driver;
const frrAs = 65020;
const rd = "65020:7";

function vtysh(cmd: string): string {
  return sh("vtysh", ["--vty_socket", lab.dir, "-c", cmd], { ns: lab.theirs });
}

/** FRR's own record of the SIDs it allocated for the VRF: `vpn_policy[AFI_IP].tovpn_sid: fd00:…`. */
function allocatedSids(): { ipv4?: string; ipv6?: string } {
  const text = vtysh("show bgp segment-routing srv6");
  const block = text.slice(text.indexOf(`name: ${vrf}`));
  return {
    ipv4: /vpn_policy\[AFI_IP\]\.tovpn_sid: (\S+)/.exec(block)?.[1],
    ipv6: /vpn_policy\[AFI_IP6\]\.tovpn_sid: (\S+)/.exec(block)?.[1],
  };
}

beforeAll(async () => {
  lab.up();
  // The VRF: its own namespace with a veth pair inside it, so its subnets are connected routes.
  sh("ip", ["netns", "add", vrf]);
  const [a, b] = [`bs${process.pid % 100000}a`, `bs${process.pid % 100000}b`];
  sh("ip", ["link", "add", a, "netns", vrf, "type", "veth", "peer", "name", b, "netns", vrf]);
  sh("ip", ["addr", "add", "10.77.0.1/24", "dev", a], { ns: vrf });
  sh("ip", ["-6", "addr", "add", "2001:db8:77::1/64", "dev", a, "nodad"], { ns: vrf });
  for (const dev of ["lo", a, b]) sh("ip", ["link", "set", dev, "up"], { ns: vrf });
  await startFrr(
    lab,
    `frr defaults traditional
hostname frr-pe
log file ${lab.dir}/bgpd.log
!
router bgp ${frrAs}
 bgp router-id ${lab.v4(2)}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor ${lab.v4(1)} remote-as 65001
 neighbor ${lab.v4(1)} timers connect 2
 address-family ipv4 vpn
  neighbor ${lab.v4(1)} activate
 exit-address-family
 address-family ipv6 vpn
  neighbor ${lab.v4(1)} activate
 exit-address-family
 segment-routing srv6
  locator pe
 exit
exit
!
router bgp ${frrAs} vrf ${vrf}
 bgp router-id ${lab.v4(2)}
 no bgp ebgp-requires-policy
 address-family ipv4 unicast
  redistribute connected
  sid vpn export auto
  rd vpn export ${rd}
  rt vpn both ${rd}
  export vpn
  import vpn
 exit-address-family
 address-family ipv6 unicast
  redistribute connected
  sid vpn export auto
  rd vpn export ${rd}
  rt vpn both ${rd}
  export vpn
  import vpn
 exit-address-family
exit
`,
    {
      netnsVrfs: true,
      zebraConf: `segment-routing
 srv6
  locators
   locator pe
    prefix fd00:20:0:7::/64
   exit
  exit
 exit
exit
`,
    },
  );
  us = await startUs(lab, [mainPeer(lab, frrAs, ["ipv4-vpn", "ipv6-vpn"])]);
}, 60_000);

afterAll(async () => {
  await lab.cleanup();
  sh("ip", ["netns", "del", vrf], { allowFail: true });
});

async function received(family: "ipv4-vpn" | "ipv6-vpn", prefix: string): Promise<RouteView> {
  return until(
    async () => (await us.received(lab.v4(2), family)).find((r) => r.prefix === prefix),
    `FRR's ${family} route ${prefix}`,
    30_000,
  );
}

describe("FRR originates SRv6 L3VPN routes that we import", () => {
  it("FRR allocates a SID per address family of the VRF from its locator", async () => {
    const sids = await until(() => {
      const s = allocatedSids();
      return s.ipv4 && s.ipv6 ? s : undefined;
    }, "FRR's VRF SIDs");
    expect(sids.ipv4).toMatch(/^fd00:20:0:7:/);
    expect(sids.ipv6).toMatch(/^fd00:20:0:7:/);
    await untilEstablished(us, lab.v4(2));
  });

  it("a VPNv4 route from the VRF arrives with RD, route target and the SID FRR allocated for IPv4", async () => {
    const r = await received("ipv4-vpn", "10.77.0.0/24");
    expect(r.rd).toBe(rd);
    expect(r.extendedCommunities).toContain(`rt:${rd}`);
    const sid = serviceSid(r);
    // FRR transposes the function into the label (RFC 9252 §4): the SID on the wire is the locator.
    expect(r.prefixSid?.srv6L3Service?.sids[0]?.sid).toBe("fd00:20:0:7::");
    expect(sid).toMatchObject({
      sid: allocatedSids().ipv4,
      // FRR 8.4 signals its own VRF SIDs as 0xFFFF (Opaque, RFC 8986 §10.2), not End.DT4: we keep
      // what was sent; the SRv6 import takes the behaviour from the family (VPNv4 → End.DT4).
      behavior: 0xffff,
      transposed: true,
      structure: { locatorBlockLength: 40, locatorNodeLength: 24, functionLength: 16 },
    });
    expect(r.nextHops[0]).toBe(lab.v4(2));
  });

  it("a VPNv6 route from the VRF arrives with the SID FRR allocated for IPv6", async () => {
    const r = await received("ipv6-vpn", "2001:db8:77::/64");
    expect(r.rd).toBe(rd);
    expect(r.extendedCommunities).toContain(`rt:${rd}`);
    expect(serviceSid(r)).toMatchObject({
      sid: allocatedSids().ipv6,
      behavior: 0xffff,
      transposed: true,
    });
  });

  it("a subnet removed from the VRF is withdrawn from us", async () => {
    await received("ipv4-vpn", "10.77.0.0/24");
    await received("ipv6-vpn", "2001:db8:77::/64");
    sh("ip", ["addr", "del", "10.77.0.1/24", "dev", `bs${process.pid % 100000}a`], { ns: vrf });
    await until(
      async () => !(await us.received(lab.v4(2), "ipv4-vpn")).some((r) => r.prefix === "10.77.0.0/24"),
      "VPNv4 withdrawal",
      30_000,
    );
    // The VPNv6 route of the same VRF stays.
    const v6 = await us.received(lab.v4(2), "ipv6-vpn");
    if (!v6.length) console.log(vtysh("show bgp ipv6 vpn"), JSON.stringify(await us.status()));
    expect(v6.map((r) => r.prefix)).toContain("2001:db8:77::/64");
  });
});
