import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { untransposeSid } from "../../src/index.js";
import { type Driver, Lab, sh, startFrr, until } from "../../testing/index.js";
import {
  mainPeer,
  SRV6,
  shortHoldPeer,
  startUs,
  untilDropped,
  untilEstablished,
  untilNotification,
  untilReceived,
  wrongAsPeer,
} from "./steps.js";

// Interop with FRR 8.4 (zebra + bgpd) in its own network namespace.

const lab = new Lab("frr", 1);
let us: Driver;
const frrAs = 65010;

function vtysh(cmd: string): string {
  return sh("vtysh", ["--vty_socket", lab.dir, "-c", cmd], { ns: lab.theirs });
}

function vtyshJson<T = Record<string, unknown>>(cmd: string): T {
  return JSON.parse(vtysh(cmd) || "{}") as T;
}

function configure(lines: string[]): void {
  sh("vtysh", ["--vty_socket", lab.dir, "-c", "configure terminal", ...lines.flatMap((l) => ["-c", l])], {
    ns: lab.theirs,
  });
}

const frrPeer = (restarting = false) =>
  mainPeer(lab, frrAs, ["ipv4-unicast", "ipv6-unicast", "ipv4-vpn", "ipv6-vpn"], {
    gracefulRestart: { restartTime: 60, restarting },
  });

beforeAll(async () => {
  lab.up();
  await startFrr(
    lab,
    `frr defaults traditional
hostname frr-lab
log file ${lab.dir}/bgpd.log
!
router bgp ${frrAs}
 bgp router-id ${lab.v4(2)}
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor ${lab.v4(1)} remote-as 65001
 neighbor ${lab.v4(1)} timers connect 2
 neighbor ${lab.v4(3)} remote-as 65999
 neighbor ${lab.v4(3)} update-source ${lab.v4(4)}
 neighbor ${lab.v4(3)} timers connect 2
 neighbor ${lab.v4(5)} remote-as 65001
 neighbor ${lab.v4(5)} update-source ${lab.v4(6)}
 neighbor ${lab.v4(5)} timers 1 3
 neighbor ${lab.v4(5)} timers connect 2
 !
 address-family ipv4 unicast
  network 172.16.10.0/24
  neighbor ${lab.v4(1)} activate
  neighbor ${lab.v4(3)} activate
  neighbor ${lab.v4(5)} activate
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:10::/48
  neighbor ${lab.v4(1)} activate
 exit-address-family
 !
 address-family ipv4 vpn
  neighbor ${lab.v4(1)} activate
 exit-address-family
 !
 address-family ipv6 vpn
  neighbor ${lab.v4(1)} activate
 exit-address-family
!
`,
  );
  us = await startUs(lab, [
    frrPeer(),
    // FRR expects AS 65999 from this address: its NOTIFICATION must show up in our status in words.
    wrongAsPeer(lab, frrAs),
    shortHoldPeer(lab, frrAs),
  ]);
}, 60_000);

afterAll(async () => {
  await lab.cleanup();
});

describe("FRR interop", () => {
  it("establishes a session that both sides see as Established", async () => {
    await untilEstablished(us, lab.v4(2));
    const nb = vtyshJson<Record<string, { bgpState: string }>>(`show bgp neighbors ${lab.v4(1)} json`);
    expect(nb[lab.v4(1)]?.bgpState).toBe("Established");
    const st = await us.peer(lab.v4(2));
    expect(st.negotiated?.families).toEqual(["ipv4-unicast", "ipv6-unicast", "ipv4-vpn", "ipv6-vpn"]);
    expect(st.negotiated?.as4).toBe(true);
  });

  // Issue 19, bug 1: a hold timer not restarted in Established flapped every session once per
  // hold time, and no interop test lasted that long.
  it("a session with a 3 s hold time stays up past three hold times, on both sides", async () => {
    await untilEstablished(us, lab.v4(6));
    expect((await us.peer(lab.v4(6))).negotiated).toMatchObject({ holdTime: 3 });
    const before = vtyshJson<Record<string, { connectionsEstablished: number }>>(
      `show bgp neighbors ${lab.v4(5)} json`,
    )[lab.v4(5)]!.connectionsEstablished;
    await new Promise((r) => setTimeout(r, 9_500));
    const ours = await us.peer(lab.v4(6));
    expect(ours).toMatchObject({ state: "Established", flaps: 0 });
    expect(ours.uptimeSeconds).toBeGreaterThanOrEqual(9);
    const theirs = vtyshJson<
      Record<string, { bgpState: string; connectionsEstablished: number; connectionsDropped: number }>
    >(`show bgp neighbors ${lab.v4(5)} json`)[lab.v4(5)]!;
    expect(theirs.bgpState).toBe("Established");
    expect(theirs.connectionsDropped).toBe(0);
    expect(theirs.connectionsEstablished).toBe(before);
  }, 30_000);

  it("learns FRR's IPv4 and IPv6 routes with their attributes", async () => {
    const v4 = await untilReceived(us, lab, "ipv4-unicast", "172.16.10.0/24", "FRR IPv4 route");
    expect(v4).toMatchObject({ asPath: [frrAs], nextHops: [lab.v4(2)], origin: 0 });
    const v6 = await untilReceived(us, lab, "ipv6-unicast", "2001:db8:10::/48", "FRR IPv6 route");
    expect(v6.asPath).toEqual([frrAs]);
    // FRR picks one of its global addresses on the link as the IPv6 next hop.
    expect([lab.v6(2), lab.v6(4), lab.v6(6)]).toContain(v6.nextHops[0]);
  });

  it("FRR installs our IPv4 and IPv6 advertisements with the attributes we sent", async () => {
    await us.originate([
      { prefix: "10.200.0.0/16", med: 42, communities: ["65001:100"], largeCommunities: ["65001:1:2"] },
      { prefix: "2001:db8:200::/48", communities: ["65001:6"] },
    ]);
    const r = await until(() => {
      const j = vtyshJson<{ paths?: Record<string, unknown>[] }>("show bgp ipv4 unicast 10.200.0.0/16 json");
      return j.paths?.[0];
    }, "10.200.0.0/16 in FRR");
    expect(r).toMatchObject({
      aspath: { string: "65001" },
      metric: 42,
      community: { string: "65001:100" },
      largeCommunity: { string: "65001:1:2" },
      origin: "IGP",
    });
    expect((r.nexthops as { ip: string }[])[0]!.ip).toBe(lab.v4(1));
    const r6 = await until(
      () =>
        vtyshJson<{ paths?: Record<string, unknown>[] }>("show bgp ipv6 unicast 2001:db8:200::/48 json")
          .paths?.[0],
      "IPv6 route in FRR",
    );
    expect((r6.nexthops as { ip: string }[])[0]!.ip).toBe(lab.v6(1));
    expect(r6).toMatchObject({ aspath: { string: "65001" }, community: { string: "65001:6" } });
  });

  it("withdrawals work both ways", async () => {
    await us.withdraw([{ prefix: "10.200.0.0/16" }]);
    await until(
      () => !vtyshJson<{ paths?: unknown[] }>("show bgp ipv4 unicast 10.200.0.0/16 json").paths,
      "FRR drops our route",
    );
    configure([`router bgp ${frrAs}`, "address-family ipv4 unicast", "no network 172.16.10.0/24"]);
    await untilDropped(us, lab, "172.16.10.0/24", "we drop FRR's route");
  });

  it("FRR's NOTIFICATION for a wrong ASN shows in our status in words", async () => {
    const st = await untilNotification(us, lab, "NOTIFICATION from FRR");
    expect(st.lastErrorWords).toMatch(/^received: OPEN Message Error \/ Bad Peer AS/);
    expect(st.state).not.toBe("Established");
  });

  it("FRR decodes our VPNv4 route's SRv6 Prefix-SID and transposed label exactly as sent", async () => {
    await us.originate([
      {
        family: "ipv4-vpn",
        prefix: "192.168.10.0/24",
        rd: "65001:10",
        extendedCommunities: ["rt:65001:10"],
        srv6: { sid: "fd00:0:0:1:e004::", behavior: 0x13, structure: SRV6 },
      },
    ]);
    const out = await until(() => {
      const t = vtysh("show bgp ipv4 vpn 192.168.10.0/24 json");
      return t.includes("remoteSid") ? t : undefined;
    }, "VPN route with SID in FRR");
    const j = JSON.parse(out) as Record<
      string,
      { paths?: { remoteSid: string; remoteLabel: number; extendedCommunity: unknown }[] }
    >;
    const p = j["65001:10"]?.paths?.[0];
    // FRR shows the SID and label exactly as carried: function bits zeroed in the SID, moved to the label.
    expect(p?.remoteSid).toBe("fd00:0:0:1::");
    expect(p?.remoteLabel).toBe(0xe0040);
    expect(untransposeSid(p!.remoteSid, p!.remoteLabel, SRV6)).toBe("fd00:0:0:1:e004::");
    expect(JSON.stringify(p!.extendedCommunity)).toContain("RT:65001:10");
  });

  it("FRR decodes our VPNv4 route with the whole SID in the attribute when we do not transpose", async () => {
    await us.originate([
      {
        family: "ipv4-vpn",
        prefix: "192.168.12.0/24",
        rd: "65001:12",
        extendedCommunities: ["rt:65001:12"],
        srv6: { sid: "fd00:0:0:1:e006::", behavior: 0x13, structure: SRV6, transpose: false },
      },
    ]);
    const p = await until(() => {
      const j = vtyshJson<Record<string, { paths?: { remoteSid?: string; remoteLabel?: number }[] }>>(
        "show bgp ipv4 vpn 192.168.12.0/24 json",
      );
      return j["65001:12"]?.paths?.[0];
    }, "untransposed VPN route in FRR");
    // The function stays in the SID; the label is implicit null (3), and FRR, told by the structure
    // that nothing was transposed, does not fold the label into the SID.
    expect(p.remoteSid).toBe("fd00:0:0:1:e006::");
    expect(p.remoteLabel).toBe(3);
  });

  it("FRR decodes our VPNv6 route with an End.DT6 SID (RFC 4659 + RFC 9252)", async () => {
    await us.originate([
      {
        family: "ipv6-vpn",
        prefix: "2001:db8:aa::/48",
        rd: "65001:11",
        extendedCommunities: ["rt:65001:11"],
        srv6: { sid: "fd00:0:0:1:e005::", behavior: 0x12, structure: SRV6 },
      },
    ]);
    const p = await until(() => {
      const j = vtyshJson<
        Record<
          string,
          { paths?: { remoteSid?: string; remoteLabel?: number; nexthops?: { ip: string }[] }[] }
        >
      >("show bgp ipv6 vpn 2001:db8:aa::/48 json");
      return j["65001:11"]?.paths?.[0];
    }, "VPNv6 route in FRR");
    expect(p.remoteSid).toBe("fd00:0:0:1::");
    expect(p.remoteLabel).toBe(0xe0050);
    expect(p.nexthops?.[0]?.ip).toBe(lab.v6(1));
  });

  it("graceful restart: FRR keeps our routes stale while we restart, then refreshes them", async () => {
    const path = () =>
      vtyshJson<{ paths?: { stale?: boolean }[] }>("show bgp ipv4 unicast 10.201.0.0/16 json").paths?.[0];
    await us.originate([{ prefix: "10.201.0.0/16" }, { prefix: "10.202.0.0/16" }]);
    await until(() => path() && !path()!.stale, "route in FRR before the restart");
    await us.call("stop", { graceful: true });
    await until(() => us.child.exitCode !== null, "our speaker to exit", 10_000);
    // No NOTIFICATION was sent, so FRR (helper mode) keeps the routes, marked stale.
    await until(() => path()?.stale === true, "FRR marks our route stale");
    us = await startUs(lab, [frrPeer(true)]);
    await us.originate([{ prefix: "10.201.0.0/16" }]);
    // After our End-of-RIB the re-sent route is fresh and the one we no longer have is gone.
    await until(() => path() && !path()!.stale, "route fresh again after End-of-RIB", 30_000);
    await until(
      () => !vtyshJson<{ paths?: unknown[] }>("show bgp ipv4 unicast 10.202.0.0/16 json").paths,
      "stale route purged",
    );
  });
});
