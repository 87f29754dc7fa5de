import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerConfig } from "../../src/index.js";
import { type Driver, Lab, sh, startFrr, until } from "../../testing/index.js";

// TCP-MD5 (RFC 2385) against FRR, with the key installed through @meridian/native: before the SYN on
// our active connections, and on the listening socket for the peer's connections.

const realParts = needs("TCP-MD5 and TTL with FRR", [parts.root, parts.frr, parts.nativeAddon]);
const lab = new Lab("md5", 5);
let us: Driver;

function neighborState(addr: string): string | undefined {
  const out = sh("vtysh", ["--vty_socket", lab.dir, "-c", `show bgp neighbors ${addr} json`], {
    ns: lab.theirs,
  });
  return (JSON.parse(out || "{}") as Record<string, { bgpState?: string }>)[addr]?.bgpState;
}

beforeAll(async () => {
  if (realParts.skip) return;
  lab.up();
  await startFrr(
    lab,
    `frr defaults traditional
hostname frr-md5
log file ${lab.dir}/bgpd.log
!
router bgp 65010
 bgp router-id ${lab.v4(2)}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${lab.v4(1)} remote-as 65001
 neighbor ${lab.v4(1)} password s3cret-key
 neighbor ${lab.v4(1)} timers connect 2
 neighbor ${lab.v4(3)} remote-as 65001
 neighbor ${lab.v4(3)} password right-key
 neighbor ${lab.v4(3)} update-source ${lab.v4(4)}
 neighbor ${lab.v4(3)} timers connect 2
 neighbor ${lab.v4(5)} remote-as 65001
 neighbor ${lab.v4(5)} update-source ${lab.v4(6)}
 neighbor ${lab.v4(5)} ttl-security hops 1
 neighbor ${lab.v4(5)} timers connect 2
 address-family ipv4 unicast
  network 172.16.50.0/24
 exit-address-family
!
`,
  );
  us = await lab.speaker({ asn: 65001, routerId: lab.v4(1), listen: { port: 179 } }, peers, [], true);
}, 60_000);

const peers: PeerConfig[] = [
  {
    address: lab.v4(2),
    asn: 65010,
    localAddress: lab.v4(1),
    md5Password: "s3cret-key",
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    connectRetry: 2,
  },
  {
    address: lab.v4(4),
    asn: 65010,
    localAddress: lab.v4(3),
    md5Password: "wrong-key",
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    connectRetry: 2,
  },
  // GTSM on FRR's side (RFC 5082) only admits TTL >= 254: the default 64 would be dropped.
  {
    address: lab.v4(6),
    asn: 65010,
    localAddress: lab.v4(5),
    ebgpMultihop: 255,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    connectRetry: 2,
  },
];

afterAll(async () => {
  if (!realParts.skip) await lab.cleanup();
});

describe.skipIf(realParts.skip)("TCP-MD5 and TTL with FRR (via @meridian/native)", () => {
  it("a session with the matching key establishes and carries routes", async () => {
    await until(
      async () => (await us.peer(lab.v4(2))).state === "Established",
      "MD5 session Established",
      30_000,
    );
    expect(neighborState(lab.v4(1))).toBe("Established");
    await until(
      async () => (await us.received(lab.v4(2), "ipv4-unicast")).some((r) => r.prefix === "172.16.50.0/24"),
      "route over MD5",
    );
  });

  it("a session with a mismatched key never establishes", async () => {
    // FRR's kernel drops our SYNs without a word; status says so after one connect-retry interval,
    // which is also the barrier: a whole interval passed and the session did not come up.
    const st = await until(async () => {
      const p = await us.peer(lab.v4(4));
      return p.lastErrorWords ? p : undefined;
    }, "the unanswered connect in status");
    expect((await us.peer(lab.v4(4))).state).not.toBe("Established");
    expect(neighborState(lab.v4(3))).not.toBe("Established");
    expect(st.lastErrorWords).toBe(
      "No answer to TCP connect (TCP-MD5 is set: a password that differs from the peer's looks like this)",
    );
    // The kernel saw signed segments with the wrong digest (not unsigned ones): our key really was used.
    const nstat = sh("nstat", ["-az", "TcpExtTCPMD5Failure"], { ns: lab.theirs });
    expect(Number(/TcpExtTCPMD5Failure\s+(\d+)/.exec(nstat)?.[1] ?? 0)).toBeGreaterThan(0);
  });

  it("a password removed from a peer comes off the listening socket too: the peer may dial in unsigned", async () => {
    // FRR drops its password for the .3 session; we drop ours and only listen, so the session can
    // only come up on FRR's connection to our socket, which still had the old key on it.
    sh(
      "vtysh",
      [
        "--vty_socket",
        lab.dir,
        "-c",
        "configure terminal",
        "-c",
        "router bgp 65010",
        "-c",
        `no neighbor ${lab.v4(3)} password`,
      ],
      { ns: lab.theirs },
    );
    await us.call("set-peers", {
      peers: peers.map((p) =>
        p.address === lab.v4(4) ? { ...p, md5Password: undefined, passive: true } : p,
      ),
    });
    await until(
      async () => (await us.peer(lab.v4(4))).state === "Established",
      "the unsigned session Established through our listener",
      30_000,
    );
    expect(neighborState(lab.v4(3))).toBe("Established");
    // The other peer's key is still on the socket: its session stayed up.
    expect((await us.peer(lab.v4(2))).state).toBe("Established");
  });

  it("the session TTL is set on the socket: FRR's ttl-security (GTSM) admits our TTL-255 session", async () => {
    await until(
      async () => (await us.peer(lab.v4(6))).state === "Established",
      "GTSM session Established",
      25_000,
    ).catch(async (e) => {
      throw new Error(
        `${(e as Error).message}; ours: ${JSON.stringify(await us.peer(lab.v4(6)))}; FRR: ${neighborState(lab.v4(5))}`,
      );
    });
    expect(neighborState(lab.v4(5))).toBe("Established");
  });
});
