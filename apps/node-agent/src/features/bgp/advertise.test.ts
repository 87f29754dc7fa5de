// The controller against two routers played by our own speaker on loopback addresses (no root,
// no daemons): per-peer attributes for the same prefix, VRF routes with their SRv6 SID, and VPN
// routes received per RD / route target for the SRv6 import.

import { type BgpSpeaker, SrBehavior } from "@meridian/bgp";
import type { BgpPeerState, BgpRouteState, NodeDesiredState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../testing/wait.js";
import { BgpController } from "./controller.js";
import { passiveRouter } from "./loopback-routers.js";
import { type DesiredBgp, planBgp, sessionResets } from "./plan.js";

const n = 10 + (process.pid % 200);
const us = `127.78.${n}.1`;
const torA = `127.78.${n}.2`; // eBGP
const torB = `127.78.${n}.3`; // iBGP, also a PE with VPNv4

const routers: BgpSpeaker[] = [];
let controller: BgpController;

const router = (address: string, asn: number) =>
  passiveRouter(routers, us, address, asn, ["ipv4-unicast", "ipv4-vpn"]);

const SRV6: NodeDesiredState["srv6"] = {
  locators: [
    {
      pool: "dc",
      locator: "fd00:0:0:7::/64",
      structure: { locatorBlockLength: 40, locatorNodeLength: 24, functionLength: 16, argumentLength: 0 },
    },
  ],
  vrfs: [
    {
      name: "blue",
      vrfID: 1,
      behavior: "End.DT4",
      encapMode: "HEncaps",
      sid: "fd00:0:0:7:e004::",
      routeDistinguisher: "65001:7",
      importRouteTargets: ["65001:20"],
      exportRouteTargets: ["65001:7"],
      memberEndpoints: [],
    },
  ],
  policies: [],
};

function desired(a: BgpSpeaker, b: BgpSpeaker): DesiredBgp {
  const route = (
    prefix: string,
    advertisement: string,
    extra: Partial<BgpRouteState> = {},
  ): BgpRouteState => ({
    prefix,
    advertisement,
    communities: [],
    largeCommunities: [],
    ...extra,
  });
  const peer = (
    name: string,
    address: string,
    asn: number,
    port: number,
    routes: BgpRouteState[],
  ): BgpPeerState => ({
    name,
    address,
    peerASN: asn,
    port,
    holdTimeSeconds: 9,
    keepaliveSeconds: 3,
    connectRetrySeconds: 1,
    families: name === "tor-b" ? ["ipv4-unicast", "vpnv4"] : ["ipv4-unicast"],
    hasPassword: false,
    routes,
  });
  const pods = route("10.244.7.0/24", "pods", { communities: ["65001:100"], localPreference: 150 });
  return {
    instances: [
      {
        name: "dc",
        localASN: 65001,
        routerID: us,
        peers: [
          // The same VIP goes to both ToRs through two advertisements with different communities.
          peer("tor-a", torA, 65010, a.listenPort!, [
            pods,
            route("10.96.0.10/32", "vip-a", { communities: ["65001:200"] }),
          ]),
          peer("tor-b", torB, 65001, b.listenPort!, [
            pods,
            route("10.96.0.10/32", "vip-b", { communities: ["65001:250"] }),
            route("10.244.7.5/32", "vrf-blue", {
              vrf: "blue",
              routeDistinguisher: "65001:7",
              routeTargets: ["65001:7"],
              sid: "fd00:0:0:7:e004::",
            }),
          ]),
        ],
      },
    ],
  };
}

let a: BgpSpeaker;
let b: BgpSpeaker;
const context = { nodeAddresses: [`${us}/24`], srv6: SRV6 };

beforeAll(async () => {
  a = await router(torA, 65010);
  b = await router(torB, 65001);
  controller = new BgpController({ listen: false });
  await controller.apply(desired(a, b), context);
});

afterAll(async () => {
  await controller.stop();
  for (const r of routers) await r.stop();
});

describe("BgpController advertisements", () => {
  it("plans the same intent identically, so a re-apply has nothing to do", () => {
    const one = planBgp(desired(a, b), new Map(), context);
    const two = planBgp(desired(a, b), new Map(), context);
    expect(JSON.stringify([...two.instances[0]!.originate])).toBe(
      JSON.stringify([...one.instances[0]!.originate]),
    );
    expect(JSON.stringify(two.peers)).toBe(JSON.stringify(one.peers));
  });

  it("runs each session with the peer's keepalive, and a keepalive change resets that session only", () => {
    const plan = planBgp(desired(a, b), new Map(), context);
    expect(plan.peers.map((p) => p.config.keepalive)).toEqual([3, 3]);
    const d = desired(a, b);
    d.instances[0]!.peers[0]!.keepaliveSeconds = 1;
    const changed = planBgp(d, new Map(), context);
    expect(sessionResets(plan.peers[0]!.config, changed.peers[0]!.config)).toBe(true);
    expect(sessionResets(plan.peers[1]!.config, changed.peers[1]!.config)).toBe(false);
  });

  it("sends each peer its own communities for the same prefix, and LOCAL_PREF to the iBGP peer", async () => {
    const vipA = await waitFor("VIP at tor-a", () =>
      a.receivedRoutes(us, "ipv4-unicast").find((r) => r.prefix === "10.96.0.10/32"),
    );
    const vipB = await waitFor("VIP at tor-b", () =>
      b.receivedRoutes(us, "ipv4-unicast").find((r) => r.prefix === "10.96.0.10/32"),
    );
    expect(vipA).toMatchObject({ communities: ["65001:200"], asPath: [65001], nextHops: [us] });
    expect(vipB).toMatchObject({ communities: ["65001:250"], asPath: [], localPref: 100 });
    const podsB = b.receivedRoutes(us, "ipv4-unicast").find((r) => r.prefix === "10.244.7.0/24");
    expect(podsB).toMatchObject({ communities: ["65001:100"], localPref: 150 });
    // The VRF route is not a unicast route: tor-a (no VPN family) never sees it.
    expect(
      a
        .receivedRoutes(us, "ipv4-unicast")
        .map((r) => r.prefix)
        .sort(),
    ).toEqual(["10.244.7.0/24", "10.96.0.10/32"]);
  });

  it("sends a VRF route as VPNv4 with its RD, route target and transposed End.DT4 SID", async () => {
    const vpn = await waitFor("VPN route at tor-b", () => b.receivedRoutes(us, "ipv4-vpn")[0]);
    expect(vpn).toMatchObject({
      prefix: "10.244.7.5/32",
      rd: "65001:7",
      extendedCommunities: ["rt:65001:7"],
    });
    const sid = vpn.prefixSid?.srv6L3Service?.sids[0];
    // RFC 9252 transposition: the function (e004) moves into the label, the SID keeps the locator.
    expect(sid).toMatchObject({ sid: "fd00:0:0:7::", behavior: SrBehavior.EndDT4 });
    expect(vpn.labels).toEqual([0xe0040]);
  });

  it("keeps received VPN routes per RD and route target for the SRv6 import", async () => {
    b.originate({
      family: "ipv4-vpn",
      prefix: "192.168.20.0/24",
      rd: "65001:20",
      extendedCommunities: ["rt:65001:20"],
      // Transposed as real routers send it: the function travels in the label.
      srv6: {
        sid: "fd00:0:0:9:e001::",
        behavior: SrBehavior.EndDT4,
        structure: {
          locatorBlockLength: 40,
          locatorNodeLength: 24,
          functionLength: 16,
          argumentLength: 0,
          transpositionLength: 16,
          transpositionOffset: 64,
        },
      },
    });
    const got = await waitFor(
      "VPN route from tor-b",
      () => controller.vpnRoutes({ routeTargets: ["65001:20"] })[0],
    );
    expect(got).toMatchObject({
      peer: "tor-b",
      family: "vpnv4",
      rd: "65001:20",
      routeTargets: ["65001:20"],
      prefix: "192.168.20.0/24",
      nextHops: [torB],
      labels: [0xe0010],
      // The SID the SRv6 import programs: rebuilt from the label, not the zeroed one on the wire.
      sid: "fd00:0:0:9:e001::",
      srv6: { behavior: SrBehavior.EndDT4, transposed: true },
      stale: false,
    });
    expect(controller.vpnRoutes({ routeTargets: ["65001:99"] })).toEqual([]);
    expect(controller.receivedRoutes("tor-b", "vpnv4").map((r) => r.rd)).toEqual(["65001:20"]);
  });
});
