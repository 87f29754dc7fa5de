import { afterEach, describe, expect, it } from "vitest";
import { BgpSpeaker, routeTarget, SrBehavior } from "../../src/index.js";
import { type Pair, pair, until } from "./helpers.js";

let p: Pair | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

const established = (s: BgpSpeaker, addr: string) => s.peerStatus(addr)?.state === "Established";

describe("two speakers over loopback", () => {
  it("establish, negotiate capabilities and timers, and report them", async () => {
    p = await pair(
      {},
      {},
      { families: ["ipv4-unicast", "ipv6-unicast"], holdTime: 30 },
      { families: ["ipv4-unicast", "ipv6-unicast", "ipv4-vpn"] },
    );
    await until(() => established(p!.a, p!.bAddr) && established(p!.b, p!.aAddr), "Established");
    const st = p.a.peerStatus(p.bAddr)!;
    expect(st.negotiated).toMatchObject({
      families: ["ipv4-unicast", "ipv6-unicast"],
      as4: true,
      routeRefresh: true,
      holdTime: 9,
      keepalive: 3,
      peerRouterId: "2.2.2.2",
    });
  });

  it("a configured keepalive is used, and capped at a third of the negotiated hold time", async () => {
    // A asks for 30 s hold and 2 s keepalives; B offers 12 s hold and wants 10 s keepalives.
    p = await pair({}, {}, { holdTime: 30, keepalive: 2 }, { holdTime: 12, keepalive: 10 });
    await until(() => established(p!.a, p!.bAddr) && established(p!.b, p!.aAddr), "Established");
    expect(p.a.peerStatus(p.bAddr)!.negotiated).toMatchObject({ holdTime: 12, keepalive: 2 });
    // 10 s would let B's 12 s hold time lapse after one lost KEEPALIVE: a third of it, 4 s.
    expect(p.b.peerStatus(p.aAddr)!.negotiated).toMatchObject({ holdTime: 12, keepalive: 4 });
  });

  // Issue 19, bug 1: with the hold timer not restarted by messages in Established, every session
  // flapped once per hold time and every test stayed green, none being longer than a hold time.
  it("a session with a 3 s hold time stays up past three hold times on KEEPALIVEs alone", async () => {
    p = await pair({}, {}, { holdTime: 3 }, { holdTime: 3 });
    await until(() => established(p!.a, p!.bAddr) && established(p!.b, p!.aAddr), "Established");
    expect(p.a.peerStatus(p.bAddr)!.negotiated).toMatchObject({ holdTime: 3, keepalive: 1 });
    await new Promise((r) => setTimeout(r, 9_500));
    for (const [s, peer] of [
      [p.a, p.bAddr],
      [p.b, p.aAddr],
    ] as const) {
      const st = s.peerStatus(peer)!;
      expect(st, `${s.config.routerId}'s session to ${peer}`).toMatchObject({
        state: "Established",
        flaps: 0,
        lastError: undefined,
      });
      expect(st.uptimeSeconds).toBeGreaterThanOrEqual(9);
    }
  }, 20_000);

  it("carries IPv4 and IPv6 routes with attributes, and withdrawals, both ways", async () => {
    p = await pair(
      {},
      {},
      { families: ["ipv4-unicast", "ipv6-unicast"], nextHopIpv6: "fd99::1" },
      { families: ["ipv4-unicast", "ipv6-unicast"], nextHopIpv6: "fd99::2" },
    );
    await until(() => established(p!.a, p!.bAddr), "Established");
    p.a.originate({
      prefix: "10.1.0.0/16",
      communities: ["65001:7"],
      med: 5,
      largeCommunities: ["65001:1:2"],
    });
    p.a.originate({ prefix: "2001:db8:1::/48" });
    p.b.originate({ prefix: "10.2.0.0/16" });
    const got = await until(
      () => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").find((r) => r.prefix === "10.1.0.0/16"),
      "route at B",
    );
    expect(got).toMatchObject({
      nextHops: [p.aAddr],
      asPath: [65001],
      med: 5,
      communities: ["65001:7"],
      largeCommunities: ["65001:1:2"],
    });
    expect(got.localPref).toBeUndefined();
    const v6 = await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv6-unicast")[0], "v6 route at B");
    expect(v6).toMatchObject({ prefix: "2001:db8:1::/48", nextHops: ["fd99::1"] });
    await until(() => p!.a.receivedRoutes(p!.bAddr, "ipv4-unicast").length === 1, "route at A");
    expect(p.a.advertisedRoutes(p.bAddr, "ipv4-unicast").map((r) => r.prefix)).toEqual(["10.1.0.0/16"]);
    expect(p.b.peerStatus(p.aAddr)!.prefixes["ipv4-unicast"]).toEqual({
      received: 1,
      accepted: 1,
      advertised: 1,
    });
    p.a.withdraw({ prefix: "10.1.0.0/16" });
    await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 0, "withdrawal at B");
  });

  it("RFC 8212: an eBGP peer without policy is sent nothing and accepted from nothing", async () => {
    p = await pair({}, {}, { exportPolicy: undefined }, { importPolicy: undefined });
    await until(() => established(p!.a, p!.bAddr), "Established");
    p.a.originate({ prefix: "10.1.0.0/16" });
    p.b.originate({ prefix: "10.2.0.0/16" });
    await until(
      () => p!.a.peerStatus(p!.bAddr)!.prefixes["ipv4-unicast"]!.received === 1,
      "A receives B's route",
    );
    expect(p.a.peerStatus(p.bAddr)!.prefixes["ipv4-unicast"]!.advertised).toBe(0);
    expect(p.b.peerStatus(p.aAddr)!.prefixes["ipv4-unicast"]!.advertised).toBe(1);
    expect(p.a.peerStatus(p.bAddr)!.prefixes["ipv4-unicast"]!.accepted).toBe(1);
    // Barrier: A's export policy and B's import policy now let one marker prefix through. Once B
    // holds it, anything A had sent before it has arrived too, and B counts received routes
    // whether it accepted them or not.
    const marker = { rules: [{ match: { prefixes: ["10.99.0.0/16"] }, action: "accept" as const }] };
    p.b.updatePeer({
      address: p.aAddr,
      asn: 65001,
      passive: true,
      importPolicy: marker,
      exportPolicy: "accept-all",
      holdTime: 9,
    });
    p.a.updatePeer({
      address: p.bAddr,
      asn: 65002,
      port: p.b.listenPort,
      localAddress: p.aAddr,
      importPolicy: "accept-all",
      exportPolicy: marker,
      holdTime: 9,
      connectRetry: 1,
    });
    p.a.originate({ prefix: "10.99.0.0/16" });
    await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 1, "the marker at B");
    expect(p.b.peerStatus(p.aAddr)!.prefixes["ipv4-unicast"]).toMatchObject({ received: 1, accepted: 1 });
    expect(p.b.receivedRoutes(p.aAddr, "ipv4-unicast").map((r) => r.prefix)).toEqual(["10.99.0.0/16"]);
    expect(p.a.peerStatus(p.bAddr)!.flaps).toBe(0);
  });

  it("a peer with the wrong ASN configured sends Bad Peer AS, shown in words", async () => {
    p = await pair({}, {}, {}, { asn: 65099 });
    await until(() => p!.a.peerStatus(p!.bAddr)!.lastError?.code === 2, "NOTIFICATION at A");
    expect(p.a.peerStatus(p.bAddr)!.lastErrorWords).toMatch(/^received: OPEN Message Error \/ Bad Peer AS/);
    expect(p.b.peerStatus(p.aAddr)!.lastErrorWords).toMatch(/^sent: OPEN Message Error \/ Bad Peer AS/);
    expect(p.a.peerStatus(p.bAddr)!.state).not.toBe("Established");
  });

  it("export policy matches prefixes and sets communities, local-pref and next hop", async () => {
    p = await pair(
      {},
      { asn: 65001, routerId: "2.2.2.2" },
      {
        exportPolicy: {
          rules: [
            {
              match: { prefixes: ["10.0.0.0/8 le 24"] },
              action: "accept",
              set: { communities: ["65001:99"], localPref: 250, nextHop: "192.0.2.9" },
            },
            { match: { communities: ["65001:1"] }, action: "accept" },
          ],
        },
      },
    );
    await until(() => established(p!.a, p!.bAddr), "Established (iBGP)");
    p.a.originate({ prefix: "10.1.0.0/16" });
    p.a.originate({ prefix: "10.1.1.1/32" });
    p.a.originate({ prefix: "172.16.0.0/12", communities: ["65001:1"] });
    await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 2, "two routes");
    const r = p.b.receivedRoutes(p.aAddr, "ipv4-unicast").sort((x, y) => x.prefix.localeCompare(y.prefix));
    expect(r[0]).toMatchObject({
      prefix: "10.1.0.0/16",
      communities: ["65001:99"],
      localPref: 250,
      nextHops: ["192.0.2.9"],
      asPath: [],
    });
    expect(r[1]).toMatchObject({ prefix: "172.16.0.0/12", localPref: 100 });
  });

  it("changing export policy re-advertises without resetting the session", async () => {
    p = await pair();
    await until(() => established(p!.a, p!.bAddr), "Established");
    p.a.originate({ prefix: "10.1.0.0/16" });
    await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 1, "route");
    const cfg = {
      address: p.bAddr,
      asn: 65002,
      port: p.b.listenPort,
      localAddress: p.aAddr,
      importPolicy: "accept-all" as const,
      holdTime: 9,
      connectRetry: 1,
    };
    p.a.updatePeer({
      ...cfg,
      exportPolicy: { rules: [{ action: "accept", set: { communities: ["1:2"] } }] },
    });
    await until(
      () => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast")[0]?.communities[0] === "1:2",
      "community added",
    );
    p.a.updatePeer({ ...cfg, exportPolicy: { rules: [], default: "reject" } });
    await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 0, "withdrawn by policy");
    expect(p.a.peerStatus(p.bAddr)!.flaps).toBe(0);
  });

  it("both sides active: collision detection leaves exactly one session", async () => {
    p = await pair({}, {}, {}, { passive: false, port: 0, localAddress: undefined, connectRetry: 1 });
    // B needs A's port to connect actively; re-add with it.
    p.b.updatePeer({
      address: p.aAddr,
      asn: 65001,
      port: p.a.listenPort,
      localAddress: p.bAddr,
      importPolicy: "accept-all",
      exportPolicy: "accept-all",
      holdTime: 9,
      connectRetry: 1,
    });
    await until(() => established(p!.a, p!.bAddr) && established(p!.b, p!.aAddr), "Established");
    p.a.originate({ prefix: "10.5.0.0/16" });
    await until(
      () => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 1,
      "route over the surviving connection",
    );
  });

  it("graceful restart helper: routes stay stale while the peer restarts, and are refreshed after", async () => {
    p = await pair(
      {},
      {},
      { gracefulRestart: { restartTime: 30 } },
      { gracefulRestart: { restartTime: 30 } },
    );
    await until(() => established(p!.b, p!.aAddr), "Established");
    p.a.originate({ prefix: "10.1.0.0/16" });
    p.a.originate({ prefix: "10.2.0.0/16" });
    await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast").length === 2, "routes");
    // A restarts: it vanishes without a NOTIFICATION, and a new instance comes back with one route fewer.
    await p.a.stop({ graceful: true });
    const stale = await until(() => {
      const r = p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast");
      return r.length === 2 && r.every((x) => x.stale) ? r : undefined;
    }, "routes kept as stale");
    expect(stale.map((r) => r.prefix).sort()).toEqual(["10.1.0.0/16", "10.2.0.0/16"]);
    expect(p.b.bestRoutes("ipv4-unicast")).toHaveLength(2);
    const a2 = new BgpSpeaker({ asn: 65001, routerId: "1.1.1.1", listen: false });
    a2.originate({ prefix: "10.1.0.0/16" });
    a2.addPeer({
      address: p.bAddr,
      asn: 65002,
      port: p.b.listenPort,
      localAddress: p.aAddr,
      importPolicy: "accept-all",
      exportPolicy: "accept-all",
      holdTime: 9,
      connectRetry: 1,
      gracefulRestart: { restartTime: 30, restarting: true },
    });
    const oldA = p.a;
    p.a = a2;
    void oldA;
    // After A's End-of-RIB the route it no longer has is gone, and the one it re-sent is fresh.
    await until(() => {
      const r = p!.b.receivedRoutes(p!.aAddr, "ipv4-unicast");
      return r.length === 1 && !r[0]!.stale && r[0]!.prefix === "10.1.0.0/16";
    }, "stale route purged after End-of-RIB");
    expect(p.b.peerStatus(p.aAddr)!.flaps).toBe(1);
  });

  it("VPNv4 with an SRv6 SID: transposed label and Prefix-SID arrive intact", async () => {
    p = await pair({}, {}, { families: ["ipv4-vpn"] }, { families: ["ipv4-vpn"] });
    await until(() => established(p!.a, p!.bAddr), "Established");
    const structure = {
      locatorBlockLength: 40,
      locatorNodeLength: 24,
      functionLength: 16,
      argumentLength: 0,
      transpositionLength: 16,
      transpositionOffset: 64,
    };
    p.a.originate({
      family: "ipv4-vpn",
      prefix: "192.168.10.0/24",
      rd: "65001:10",
      extendedCommunities: [`rt:65001:10`],
      srv6: { sid: "fd00:0:0:1:e004::", behavior: SrBehavior.EndDT4, structure },
    });
    const r = await until(() => p!.b.receivedRoutes(p!.aAddr, "ipv4-vpn")[0], "VPN route");
    expect(r).toMatchObject({
      prefix: "192.168.10.0/24",
      rd: "65001:10",
      labels: [0xe0040],
      extendedCommunities: ["rt:65001:10"],
    });
    expect(r.prefixSid?.srv6L3Service?.sids[0]).toMatchObject({
      sid: "fd00:0:0:1::",
      behavior: 0x13,
      structure,
    });
    expect(routeTarget("65001:10")).toBe("0002fde90000000a");
  });
});
