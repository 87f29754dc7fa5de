import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ipv6ToString, untransposeSid } from "../../src/index.js";
import { type Driver, Lab, sh, until } from "../../testing/index.js";
import {
  mainPeer,
  SRV6,
  startUs,
  untilDropped,
  untilEstablished,
  untilNotification,
  untilReceived,
  wrongAsPeer,
} from "./steps.js";

// Interop with GoBGP 3.10 in its own network namespace.

const lab = new Lab("gobgp", 2);
let us: Driver;
const goAs = 65020;

function gobgp(args: string[]): string {
  return sh("gobgp", ["-u", "127.0.0.1", "-p", "50051", ...args], { ns: lab.theirs });
}

function gobgpJson<T = unknown>(args: string[]): T {
  return JSON.parse(gobgp(["-j", ...args]) || "null") as T;
}

type GoAttr = Record<string, unknown> & { type: number };
type GoRib = Record<string, { nlri: Record<string, unknown>; attrs: GoAttr[] }[]> | null;

function attr(attrs: GoAttr[], type: number): GoAttr | undefined {
  return attrs.find((a) => a.type === type);
}

beforeAll(async () => {
  lab.up();
  const neighbor = (addr: string, as: number, families: string[], local?: string) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${addr}"
    peer-as = ${as}
  [neighbors.timers.config]
    connect-retry = 2
    hold-time = 9
    keepalive-interval = 3
${local ? `  [neighbors.transport.config]\n    local-address = "${local}"\n` : ""}${families
  .map((f) => `  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "${f}"\n`)
  .join("")}`;
  fs.writeFileSync(
    path.join(lab.dir, "gobgpd.toml"),
    `[global.config]
  as = ${goAs}
  router-id = "${lab.v4(2)}"
${neighbor(lab.v4(1), 65001, ["ipv4-unicast", "ipv6-unicast", "l3vpn-ipv4-unicast"])}
${neighbor(lab.v4(3), 65999, ["ipv4-unicast"], lab.v4(4))}
${neighbor(lab.v6(1), 65001, ["ipv6-unicast"], lab.v6(2))}
${neighbor(lab.v4(5), 65001, ["ipv4-unicast"], lab.v4(6)).replace("hold-time = 9", "hold-time = 3").replace("keepalive-interval = 3", "keepalive-interval = 1")}
`,
  );
  lab.spawnDaemon("gobgpd", [
    "-f",
    path.join(lab.dir, "gobgpd.toml"),
    "-p",
    "--api-hosts",
    "127.0.0.1:50051",
  ]);
  await until(() => gobgp(["global"]).includes(String(goAs)), "gobgpd API");
  us = await startUs(lab, [
    mainPeer(lab, goAs, ["ipv4-unicast", "ipv6-unicast", "ipv4-vpn"]),
    wrongAsPeer(lab, goAs),
    // A session over IPv6 transport, for IPv6 unicast only.
    {
      address: lab.v6(2),
      asn: goAs,
      localAddress: lab.v6(1),
      families: ["ipv6-unicast"],
      importPolicy: "accept-all",
      exportPolicy: { rules: [{ match: { prefixes: ["2001:db8:300::/48"] }, action: "accept" }] },
      holdTime: 9,
      connectRetry: 2,
    },
    // A session with the smallest hold time, .5 → .6: it must outlive several of them.
    {
      address: lab.v4(6),
      asn: goAs,
      localAddress: lab.v4(5),
      families: ["ipv4-unicast"],
      importPolicy: "accept-all",
      exportPolicy: "accept-all",
      holdTime: 3,
      connectRetry: 2,
    },
  ]);
}, 60_000);

afterAll(async () => {
  await lab.cleanup();
});

describe("GoBGP interop", () => {
  it("establishes a session that both sides see as established", async () => {
    await untilEstablished(us, lab.v4(2));
    const nb = gobgpJson<{ state: { session_state: number | string } }>(["neighbor", lab.v4(1)]);
    expect(String(nb.state.session_state)).toMatch(/^(6|established)$/i);
    expect((await us.peer(lab.v4(2))).negotiated?.families).toEqual([
      "ipv4-unicast",
      "ipv6-unicast",
      "ipv4-vpn",
    ]);
  });

  // Issue 19, bug 1: a hold timer not restarted in Established flapped every session once per
  // hold time, and no interop test lasted that long.
  it("a session with a 3 s hold time stays up past three hold times, on both sides", async () => {
    await untilEstablished(us, lab.v4(6));
    expect((await us.peer(lab.v4(6))).negotiated).toMatchObject({ holdTime: 3, keepalive: 1 });
    await new Promise((r) => setTimeout(r, 9_500));
    const ours = await us.peer(lab.v4(6));
    expect(ours).toMatchObject({ state: "Established", flaps: 0 });
    expect(ours.uptimeSeconds).toBeGreaterThanOrEqual(9);
    // GoBGP counts a session's drops in `flops` (left out of its JSON while 0).
    const theirs = gobgpJson<{ state: { session_state: number | string; flops?: number } }>([
      "neighbor",
      lab.v4(5),
    ]);
    expect(String(theirs.state.session_state)).toMatch(/^(6|established)$/i);
    expect(theirs.state.flops ?? 0).toBe(0);
  }, 30_000);

  it("learns GoBGP's IPv4 and IPv6 routes", async () => {
    gobgp(["global", "rib", "add", "-a", "ipv4", "172.16.20.0/24", "community", "65020:5"]);
    gobgp(["global", "rib", "add", "-a", "ipv6", "2001:db8:20::/48", "nexthop", lab.v6(2)]);
    const v4 = await untilReceived(us, lab, "ipv4-unicast", "172.16.20.0/24", "GoBGP IPv4 route");
    expect(v4).toMatchObject({ asPath: [goAs], nextHops: [lab.v4(2)], communities: ["65020:5"] });
    const v6 = await untilReceived(us, lab, "ipv6-unicast", "2001:db8:20::/48", "GoBGP IPv6 route");
    expect(v6.asPath).toEqual([goAs]);
  });

  it("GoBGP holds our IPv4 and IPv6 advertisements with the attributes we sent", async () => {
    await us.originate([
      { prefix: "10.200.0.0/16", med: 42, communities: ["65001:100"], largeCommunities: ["65001:1:2"] },
      { prefix: "2001:db8:200::/48" },
    ]);
    const rib = await until(
      () => gobgpJson<GoRib>(["global", "rib", "-a", "ipv4", "10.200.0.0/16"])?.["10.200.0.0/16"]?.[0],
      "our route in GoBGP",
    );
    expect(attr(rib.attrs, 2)).toMatchObject({ as_paths: [{ asns: [65001] }] });
    expect(attr(rib.attrs, 3)).toMatchObject({ nexthop: lab.v4(1) });
    expect(attr(rib.attrs, 4)).toMatchObject({ metric: 42 });
    expect(attr(rib.attrs, 8)).toMatchObject({ communities: [((65001 << 16) | 100) >>> 0] });
    expect(JSON.stringify(attr(rib.attrs, 32))).toContain("65001");
    const rib6 = await until(
      () =>
        gobgpJson<GoRib>(["global", "rib", "-a", "ipv6", "2001:db8:200::/48"])?.["2001:db8:200::/48"]?.[0],
      "our IPv6 route in GoBGP",
    );
    expect(JSON.stringify(attr(rib6.attrs, 14))).toContain(lab.v6(1));
  });

  it("withdrawals work both ways", async () => {
    await us.withdraw([{ prefix: "10.200.0.0/16" }]);
    await until(
      () => !gobgpJson<GoRib>(["global", "rib", "-a", "ipv4", "10.200.0.0/16"])?.["10.200.0.0/16"],
      "GoBGP drops our route",
    );
    gobgp(["global", "rib", "del", "-a", "ipv4", "172.16.20.0/24"]);
    await untilDropped(us, lab, "172.16.20.0/24", "we drop GoBGP's route");
  });

  it("GoBGP's NOTIFICATION for a wrong ASN shows in our status in words", async () => {
    const st = await untilNotification(us, lab, "NOTIFICATION from GoBGP");
    expect(st.lastErrorWords).toMatch(/^received: OPEN Message Error \/ Bad Peer AS/);
  });

  it("GoBGP decodes our VPNv4 route's SRv6 Prefix-SID exactly as sent", async () => {
    await us.originate([
      {
        family: "ipv4-vpn",
        prefix: "192.168.20.0/24",
        rd: "65001:20",
        extendedCommunities: ["rt:65001:20"],
        srv6: { sid: "fd00:0:0:2:e008::", behavior: 0x13, structure: SRV6 },
      },
    ]);
    const rib = await until(() => {
      const r = gobgpJson<GoRib>(["global", "rib", "-a", "vpnv4"]);
      return (
        r &&
        Object.values(r)
          .flat()
          .find((p) => (p.nlri as { prefix?: string }).prefix === "192.168.20.0/24")
      );
    }, "VPN route in GoBGP");
    expect(rib.nlri).toMatchObject({
      prefix: "192.168.20.0/24",
      labels: [0xe0080],
      rd: { type: 0, admin: 65001, assigned: 20 },
    });
    const psid = attr(rib.attrs, 40) as unknown as {
      TLVs: {
        type: number;
        SubTLVs: { sid: string; endpoint_behavior: number; sub_sub_tlvs: Record<string, number>[] }[];
      }[];
    };
    const info = psid.TLVs[0]!.SubTLVs[0]!;
    expect(psid.TLVs[0]!.type).toBe(5);
    const sid = ipv6ToString(Buffer.from(info.sid, "base64"));
    expect(sid).toBe("fd00:0:0:2::");
    expect(info.endpoint_behavior).toBe(0x13);
    expect(info.sub_sub_tlvs[0]).toMatchObject({
      locator_block_length: 40,
      locator_node_length: 24,
      function_length: 16,
      argument_length: 0,
      transposition_length: 16,
      transposition_offset: 64,
    });
    expect(untransposeSid(sid, (rib.nlri as { labels: number[] }).labels[0]!, SRV6)).toBe(
      "fd00:0:0:2:e008::",
    );
    expect(JSON.stringify(attr(rib.attrs, 16))).toContain("65001:20");
  });

  it("GoBGP decodes our VPNv4 route with the whole SID and no transposition when we do not transpose", async () => {
    await us.originate([
      {
        family: "ipv4-vpn",
        prefix: "192.168.22.0/24",
        rd: "65001:22",
        extendedCommunities: ["rt:65001:22"],
        srv6: { sid: "fd00:0:0:2:e009::", behavior: 0x13, structure: SRV6, transpose: false },
      },
    ]);
    const rib = await until(() => {
      const r = gobgpJson<GoRib>(["global", "rib", "-a", "vpnv4"]);
      return (
        r &&
        Object.values(r)
          .flat()
          .find((p) => (p.nlri as { prefix?: string }).prefix === "192.168.22.0/24")
      );
    }, "untransposed VPN route in GoBGP");
    expect(rib.nlri).toMatchObject({ labels: [3], rd: { type: 0, admin: 65001, assigned: 22 } });
    const psid = attr(rib.attrs, 40) as unknown as {
      TLVs: {
        SubTLVs: { sid: string; endpoint_behavior: number; sub_sub_tlvs: Record<string, number>[] }[];
      }[];
    };
    const info = psid.TLVs[0]!.SubTLVs[0]!;
    expect(ipv6ToString(Buffer.from(info.sid, "base64"))).toBe("fd00:0:0:2:e009::");
    expect(info.sub_sub_tlvs[0]).toMatchObject({ function_length: 16, transposition_length: 0 });
  });

  it("a session over IPv6 transport carries IPv6 routes with our IPv6 address as next hop", async () => {
    await untilEstablished(us, lab.v6(2), "IPv6 session Established", 20_000).catch(async (e) => {
      const nb = gobgp(["neighbor", lab.v6(1)]).slice(0, 400);
      throw new Error(
        `${(e as Error).message}; ours: ${JSON.stringify(await us.peer(lab.v6(2)))}; GoBGP: ${nb}`,
      );
    });
    expect((await us.peer(lab.v6(2))).negotiated).toMatchObject({
      families: ["ipv6-unicast"],
      localAddress: lab.v6(1),
    });
    await us.originate([{ prefix: "2001:db8:300::/48" }]);
    const path = await until(() => {
      const r = gobgpJson<GoRib>(["global", "rib", "-a", "ipv6", "2001:db8:300::/48"])?.["2001:db8:300::/48"];
      return r?.find((p) => (p as unknown as { "neighbor-ip": string })["neighbor-ip"] === lab.v6(1));
    }, "route from the IPv6 session in GoBGP");
    expect(JSON.stringify(attr(path.attrs, 14))).toContain(`"nexthop":"${lab.v6(1)}"`);
  });
});
