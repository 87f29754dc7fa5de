// SRv6 L3VPN datapath (lib/srv6.h) through BPF_PROG_TEST_RUN: encapsulation in from_pod (IPv4 and
// IPv6 inner, H.Encaps and H.Encaps.Red, 1 and 3 segments; outer headers checked byte by byte),
// decapsulation in from_net (End.DT4 / End.DT6 / End.DT46), and every drop with its reason.
// The maps are written through the agent's own layer (features/srv6/kernel.ts).
import { execFileSync } from "node:child_process";
import { runInNetns } from "@meridian/native";
import { POINT, REASON } from "@meridian/node-agent/datapath/index";
import { type Srv6DatapathState, Srv6Kernel } from "@meridian/node-agent/features/srv6/kernel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildPacket, ipBytes } from "../packet";
import { type Harness, openHarness, TC_ACT_OK, TC_ACT_SHOT } from "./harness";

const TC_ACT_REDIRECT = 7;
const NETNS = `s6dp-${process.pid}`;
const NETNS_PATH = `/run/netns/${NETNS}`;
const SRC = "fd00:5::1"; // the node's SRv6 source
const POD4 = "10.1.0.10";
const POD6 = "fd00:1::10";
const REMOTE4 = "192.168.50.7";
const REMOTE6 = "fd50::7";
const SID1 = "fc00:0:2:e000::";
const SID2 = "fc00:0:3:e001::";
const SID3 = "fc00:0:4:e002::";
const LOCAL_DT4 = "fc00:0:1:e004::";
const LOCAL_DT6 = "fc00:0:1:e006::";
const LOCAL_DT46 = "fc00:0:1:e046::";
const LOCAL_BLUE = "fc00:0:1:e104::";
const POD_MAC = "0a:00:00:00:00:10";
const HOST_MAC = "0a:00:00:00:00:01";
const RED = 10;
const BLUE = 20;

let h: Harness;
let k: Srv6Kernel;

beforeAll(() => {
  h = openHarness("srv6");
  k = Srv6Kernel.open(h.pinDir);
  // Test runs happen in an empty namespace of the test's own: the FIB there has no route for the
  // outer packet, so the encapsulated packet is handed back (TC_ACT_OK) exactly as built.
  execFileSync("ip", ["netns", "add", NETNS]);
});
afterEach(() => {
  h.reset();
  k.apply(empty());
  k.resetCounters();
});
afterAll(() => {
  k?.close();
  h?.close();
  execFileSync("ip", ["netns", "del", NETNS], { stdio: "ignore" });
});

function empty(): Srv6DatapathState {
  return { source: null, mtu: 0, members: [], policies: [], sids: [] };
}

function run(point: "from_pod" | "from_net", pkt: Buffer) {
  return runInNetns(NETNS_PATH, () => h.run(point, pkt));
}

/** Pod POD4/POD6 (ifindex 1 in test runs) in VRF red, with one policy per family. */
function setupEncap(
  mode: "HEncaps" | "HEncapsRed",
  segments: string[],
  extra: Partial<Srv6DatapathState> = {},
) {
  h.dp.maps.setEndpoint(POD4, { epId: 100, identity: 1000, ifindex: 1, flags: 0 });
  h.dp.maps.setEndpoint(POD6, { epId: 100, identity: 1000, ifindex: 1, flags: 0 });
  k.apply({
    source: SRC,
    mtu: 1500,
    members: [
      { vrfId: RED, ifindex: 1, address: POD4, destinations: ["0.0.0.0/0"] },
      { vrfId: RED, ifindex: 1, address: POD6, destinations: ["::/0"] },
    ],
    policies: [
      { vrfId: RED, destination: "192.168.50.0/24", segments, mode, source: "static" },
      { vrfId: RED, destination: "fd50::/64", segments, mode, source: "static" },
    ],
    sids: [],
    ...extra,
  });
}

function ipv4Checksum(hdr: Buffer): number {
  let sum = 0;
  for (let i = 0; i < hdr.length; i += 2) sum += hdr.readUInt16BE(i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum; // 0xffff when valid
}

/** The outer IPv6 header (+ SRH) we expect, flow label left 0 (compared apart). */
function expectedOuter(
  inner: Buffer,
  innerV4: boolean,
  segments: string[],
  mode: "HEncaps" | "HEncapsRed",
): Buffer {
  const inSrh = mode === "HEncapsRed" ? segments.slice(1) : segments;
  const nh = innerV4 ? 4 : 41;
  const srh = inSrh.length ? Buffer.alloc(8 + 16 * inSrh.length) : Buffer.alloc(0);
  if (inSrh.length) {
    srh[0] = nh;
    srh[1] = 2 * inSrh.length;
    srh[2] = 4;
    srh[3] = segments.length - 1;
    srh[4] = inSrh.length - 1;
    [...inSrh].reverse().forEach((s, i) => {
      ipBytes(s).copy(srh, 8 + 16 * i);
    });
  }
  const ip6 = Buffer.alloc(40);
  const tclass = innerV4 ? (inner[1] ?? 0) : (((inner[0] ?? 0) & 0x0f) << 4) | ((inner[1] ?? 0) >> 4);
  ip6.writeUInt32BE(((6 << 28) | (tclass << 20)) >>> 0, 0);
  ip6.writeUInt16BE(inner.length + srh.length, 4);
  ip6[6] = inSrh.length ? 43 : nh;
  ip6[7] = 64;
  ipBytes(SRC).copy(ip6, 8);
  ipBytes(segments[0] ?? "::").copy(ip6, 24);
  return Buffer.concat([ip6, srh]);
}

function checkEncap(
  out: Buffer,
  original: Buffer,
  innerV4: boolean,
  segments: string[],
  mode: "HEncaps" | "HEncapsRed",
) {
  const inner = Buffer.from(original.subarray(14));
  const outer = expectedOuter(inner, innerV4, segments, mode);
  // Ethernet: addresses kept (the FIB did not rewrite them here), type IPv6.
  expect(out.subarray(0, 12).equals(original.subarray(0, 12))).toBe(true);
  expect(out.readUInt16BE(12)).toBe(0x86dd);
  const got = Buffer.from(out.subarray(14, 14 + outer.length));
  const label = got.readUInt32BE(0) & 0xfffff;
  got.writeUInt32BE((got.readUInt32BE(0) & ~0xfffff) >>> 0, 0);
  expect(got.toString("hex")).toBe(outer.toString("hex"));
  expect(label).toBeGreaterThanOrEqual(0);
  // The inner packet follows, its TTL / hop limit one less, IPv4 checksum still valid.
  const gotInner = out.subarray(14 + outer.length);
  expect(gotInner.length).toBe(inner.length);
  if (innerV4) {
    expect(gotInner[8]).toBe((inner[8] ?? 0) - 1);
    expect(ipv4Checksum(gotInner.subarray(0, 20))).toBe(0xffff);
    expect(gotInner.subarray(12).equals(inner.subarray(12))).toBe(true);
  } else {
    expect(gotInner[7]).toBe((inner[7] ?? 0) - 1);
    expect(gotInner.subarray(8).equals(inner.subarray(8))).toBe(true);
  }
  expect(gotInner.subarray(0, innerV4 ? 8 : 7).equals(inner.subarray(0, innerV4 ? 8 : 7))).toBe(true);
}

const stat = (name: string) => k.counters().find((c) => c.name === name)?.packets ?? -1n;

describe("encapsulation on pod egress", () => {
  const three = [SID1, SID2, SID3];
  for (const mode of ["HEncapsRed", "HEncaps"] as const) {
    for (const segs of [[SID1], three]) {
      for (const v4 of [true, false]) {
        it(`${v4 ? "IPv4" : "IPv6"} inner, ${mode}, ${segs.length} segment(s): outer headers byte by byte`, () => {
          setupEncap(mode, segs);
          const pkt = v4
            ? buildPacket({
                src: POD4,
                dst: REMOTE4,
                protocol: "tcp",
                dport: 443,
                payload: Buffer.alloc(100, 7),
              })
            : buildPacket({
                src: POD6,
                dst: REMOTE6,
                protocol: "udp",
                dport: 53,
                payload: Buffer.alloc(60, 9),
              });
          if (v4) {
            pkt[15] = 0xb8; // DSCP EF: copied to the outer traffic class
            pkt.writeUInt16BE(0, 24);
            let sum = 0;
            for (let i = 14; i < 34; i += 2) sum += pkt.readUInt16BE(i);
            while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
            pkt.writeUInt16BE(~sum & 0xffff, 24);
          }
          const res = run("from_pod", pkt);
          expect(res.retval).toBe(TC_ACT_OK);
          checkEncap(res.data, pkt, v4, segs, mode);
          expect(stat("encapsulated")).toBe(1n);
          expect(h.dp.maps.counter(POINT.FROM_POD, REASON.FORWARDED).packets).toBe(1n);
        });
      }
    }
  }

  it("packets of an established flow are encapsulated too, with the same flow label", () => {
    setupEncap("HEncapsRed", [SID1]);
    const syn = buildPacket({ src: POD4, dst: REMOTE4, protocol: "tcp", sport: 41000, dport: 443 });
    const ack = buildPacket({
      src: POD4,
      dst: REMOTE4,
      protocol: "tcp",
      sport: 41000,
      dport: 443,
      flags: 0x10,
    });
    const a = run("from_pod", syn);
    const b = run("from_pod", ack);
    expect(b.retval).toBe(TC_ACT_OK);
    checkEncap(b.data, ack, true, [SID1], "HEncapsRed");
    expect(a.data.readUInt32BE(14)).toBe(b.data.readUInt32BE(14));
    expect(stat("encapsulated")).toBe(2n);
  });

  it("a pod that is no VRF member, or a destination no policy covers (non-strict), is not touched", () => {
    setupEncap("HEncaps", [SID1]);
    const other = buildPacket({ src: POD4, dst: "10.9.9.9", protocol: "tcp", dport: 80 });
    const res = run("from_pod", other);
    expect(res.retval).toBe(TC_ACT_OK);
    expect(res.data.equals(other)).toBe(true);
    k.apply({ ...empty(), source: SRC });
    const pkt = buildPacket({ src: POD4, dst: REMOTE4, protocol: "tcp", dport: 81 });
    expect(run("from_pod", pkt).data.equals(pkt)).toBe(true);
    expect(stat("encapsulated")).toBe(0n);
  });

  it("a strict VRF entry without a policy drops (no leak to the default table)", () => {
    setupEncap("HEncaps", [SID1], {
      members: [{ vrfId: RED, ifindex: 1, address: POD4, destinations: ["10.200.0.0/16"], strict: true }],
    });
    const res = run("from_pod", buildPacket({ src: POD4, dst: "10.200.1.1", protocol: "udp", dport: 9 }));
    expect(res.retval).toBe(TC_ACT_SHOT);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.SRV6_NO_POLICY).packets).toBe(1n);
    expect(stat("no_policy")).toBe(1n);
  });

  it("oversize: a packet that would exceed the MTU once encapsulated is dropped, one that fits is not", () => {
    setupEncap("HEncaps", [SID1]); // overhead 40 + 24
    const fits = buildPacket({
      src: POD4,
      dst: REMOTE4,
      protocol: "udp",
      payload: Buffer.alloc(1500 - 64 - 28),
    });
    const over = buildPacket({
      src: POD4,
      dst: REMOTE4,
      protocol: "udp",
      payload: Buffer.alloc(1500 - 64 - 27),
    });
    const a = run("from_pod", fits);
    expect(a.retval).toBe(TC_ACT_OK);
    expect(a.data.length - 14).toBe(1500);
    expect(run("from_pod", over).retval).toBe(TC_ACT_SHOT);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.SRV6_OVERSIZE).packets).toBe(1n);
    expect(stat("oversize")).toBe(1n);
  });

  it("hop limit: an inner TTL / hop limit of 1 is dropped, not encapsulated", () => {
    setupEncap("HEncapsRed", [SID1]);
    const p4 = buildPacket({ src: POD4, dst: REMOTE4, protocol: "icmp" });
    p4[22] = 1;
    p4.writeUInt16BE(0, 24);
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += p4.readUInt16BE(i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    p4.writeUInt16BE(~sum & 0xffff, 24);
    const p6 = buildPacket({ src: POD6, dst: REMOTE6, protocol: "icmp" });
    p6[21] = 1;
    expect(run("from_pod", p4).retval).toBe(TC_ACT_SHOT);
    expect(run("from_pod", p6).retval).toBe(TC_ACT_SHOT);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.SRV6_HOP_LIMIT).packets).toBe(2n);
  });

  it("no SRv6 source address configured: dropped as an encapsulation error", () => {
    setupEncap("HEncapsRed", [SID1], { source: null });
    expect(run("from_pod", buildPacket({ src: POD4, dst: REMOTE4, protocol: "udp" })).retval).toBe(
      TC_ACT_SHOT,
    );
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.SRV6_ENCAP).packets).toBe(1n);
  });
});

describe("encapsulation routed by the kernel FIB", () => {
  const NS = `s6fib-${process.pid}`;
  afterAll(() => {
    execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
  });

  it("bpf_fib_lookup finds the outer route and neighbour: MACs rewritten, redirected to the uplink", () => {
    execFileSync("ip", ["netns", "add", NS]);
    const sh = (cmd: string) => execFileSync("ip", ["netns", "exec", NS, "sh", "-c", cmd]);
    sh(
      [
        "ip link set lo up",
        "sysctl -qw net.ipv6.conf.all.forwarding=1",
        "ip link add up0 address 0a:00:00:00:aa:01 type veth peer name up1 address 0a:00:00:00:aa:02",
        "ip link set up0 up",
        "ip link set up1 up",
        "ip -6 addr add fd00:99::1/64 dev up0 nodad",
        "ip -6 route add fc00:0:2::/48 via fd00:99::2 dev up0",
        "ip -6 neigh add fd00:99::2 lladdr 0a:00:00:00:aa:02 dev up0 nud permanent",
      ].join(" && "),
    );
    const upIndex = Number(sh("cat /sys/class/net/up0/ifindex").toString().trim());
    setupEncap("HEncapsRed", [SID1]);
    const pkt = buildPacket({ src: POD4, dst: REMOTE4, protocol: "tcp", dport: 443 });
    const res = runInNetns(`/run/netns/${NS}`, () => h.run("from_pod", pkt));
    expect(res.retval).toBe(TC_ACT_REDIRECT);
    expect(res.data.subarray(0, 6).toString("hex")).toBe("0a000000aa02");
    expect(res.data.subarray(6, 12).toString("hex")).toBe("0a000000aa01");
    expect(res.data.readUInt16BE(12)).toBe(0x86dd);
    expect(upIndex).toBeGreaterThan(1);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.REDIRECTED).packets).toBe(1n);
  });
});

// ---- decapsulation ----

interface Srv6Spec {
  dst: string;
  inner: Buffer; // an IP packet (no Ethernet)
  innerProto: 4 | 41;
  /** SRH: segments (list order, [0] = last), segments left, last entry override, hdrlen override. */
  srh?: { segs: string[]; sl: number; le?: number; hdrlen?: number; type?: number };
  cut?: number;
}

function srv6Packet(s: Srv6Spec): Buffer {
  let srh = Buffer.alloc(0);
  if (s.srh) {
    srh = Buffer.alloc(8 + 16 * s.srh.segs.length);
    srh[0] = s.innerProto;
    srh[1] = s.srh.hdrlen ?? 2 * s.srh.segs.length;
    srh[2] = s.srh.type ?? 4;
    srh[3] = s.srh.sl;
    srh[4] = s.srh.le ?? s.srh.segs.length - 1;
    s.srh.segs.forEach((x, i) => {
      ipBytes(x).copy(srh, 8 + 16 * i);
    });
  }
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60012345, 0);
  ip6.writeUInt16BE(srh.length + s.inner.length, 4);
  ip6[6] = s.srh ? 43 : s.innerProto;
  ip6[7] = 60;
  ipBytes("fd00:77::1").copy(ip6, 8);
  ipBytes(s.dst).copy(ip6, 24);
  const eth = Buffer.from("0a000000000102000000000286dd", "hex");
  return Buffer.concat([eth, ip6, srh, s.inner]);
}

const inner4 = (dst = POD4, ttl = 64) => {
  const p = buildPacket({
    src: REMOTE4,
    dst,
    protocol: "tcp",
    sport: 443,
    dport: 41000,
    flags: 0x12,
  }).subarray(14);
  const b = Buffer.from(p);
  b[8] = ttl;
  b.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  b.writeUInt16BE(~sum & 0xffff, 10);
  return b;
};
const inner6 = (dst = POD6, hl = 64) => {
  const b = Buffer.from(
    buildPacket({ src: REMOTE6, dst, protocol: "udp", sport: 53, dport: 40000 }).subarray(14),
  );
  b[7] = hl;
  return b;
};

function setupDecap() {
  k.apply({
    source: SRC,
    mtu: 1500,
    members: [
      { vrfId: RED, ifindex: 31, address: POD4, destinations: [], mac: POD_MAC, hostMac: HOST_MAC },
      { vrfId: RED, ifindex: 31, address: POD6, destinations: [], mac: POD_MAC, hostMac: HOST_MAC },
      // Blue reuses red's address space: a pod of its own with the same address.
      {
        vrfId: BLUE,
        ifindex: 32,
        address: POD4,
        destinations: [],
        mac: "0a:00:00:00:00:20",
        hostMac: HOST_MAC,
      },
    ],
    policies: [],
    sids: [
      { sid: LOCAL_DT4, vrfId: RED, behavior: "End.DT4" },
      { sid: LOCAL_DT6, vrfId: RED, behavior: "End.DT6" },
      { sid: LOCAL_DT46, vrfId: RED, behavior: "End.DT46" },
      { sid: LOCAL_BLUE, vrfId: BLUE, behavior: "End.DT4" },
    ],
  });
}

function checkDecap(out: Buffer, inner: Buffer, v4: boolean, podMac = POD_MAC) {
  expect(out.subarray(0, 6).toString("hex")).toBe(podMac.replaceAll(":", ""));
  expect(out.subarray(6, 12).toString("hex")).toBe(HOST_MAC.replaceAll(":", ""));
  expect(out.readUInt16BE(12)).toBe(v4 ? 0x0800 : 0x86dd);
  const got = out.subarray(14);
  expect(got.length).toBe(inner.length);
  if (v4) {
    expect(got[8]).toBe((inner[8] ?? 0) - 1);
    expect(ipv4Checksum(got.subarray(0, 20))).toBe(0xffff);
    expect(got.subarray(12).equals(inner.subarray(12))).toBe(true);
  } else {
    expect(got[7]).toBe((inner[7] ?? 0) - 1);
    expect(got.subarray(8).equals(inner.subarray(8))).toBe(true);
  }
}

const drops = (reason: number) => h.dp.maps.counter(POINT.FROM_NET, reason).packets;

describe("decapsulation on uplink ingress", () => {
  it("End.DT4, reduced encapsulation (no SRH): outer stripped, TTL and checksum, to the member pod", () => {
    setupDecap();
    const inner = inner4();
    const res = run("from_net", srv6Packet({ dst: LOCAL_DT4, inner, innerProto: 4 }));
    expect(res.retval).toBe(TC_ACT_REDIRECT);
    checkDecap(res.data, inner, true);
    expect(stat("decapsulated")).toBe(1n);
  });

  it("End.DT4 with an SRH at segments left 0 (what the kernel's `mode encap` sends)", () => {
    setupDecap();
    const inner = inner4();
    const res = run(
      "from_net",
      srv6Packet({ dst: LOCAL_DT4, inner, innerProto: 4, srh: { segs: [LOCAL_DT4], sl: 0 } }),
    );
    expect(res.retval).toBe(TC_ACT_REDIRECT);
    checkDecap(res.data, inner, true);
  });

  it("End.DT6: IPv6 inner, 3-segment SRH consumed", () => {
    setupDecap();
    const inner = inner6();
    const res = run(
      "from_net",
      srv6Packet({ dst: LOCAL_DT6, inner, innerProto: 41, srh: { segs: [LOCAL_DT6, SID2, SID1], sl: 0 } }),
    );
    expect(res.retval).toBe(TC_ACT_REDIRECT);
    checkDecap(res.data, inner, false);
  });

  it("End.DT46 takes both families", () => {
    setupDecap();
    const i4 = inner4();
    const i6 = inner6();
    const a = run("from_net", srv6Packet({ dst: LOCAL_DT46, inner: i4, innerProto: 4 }));
    const b = run("from_net", srv6Packet({ dst: LOCAL_DT46, inner: i6, innerProto: 41 }));
    expect([a.retval, b.retval]).toEqual([TC_ACT_REDIRECT, TC_ACT_REDIRECT]);
    checkDecap(a.data, i4, true);
    checkDecap(b.data, i6, false);
    expect(stat("decapsulated")).toBe(2n);
  });

  it("VRFs share address space: blue's SID delivers to blue's pod of the same address", () => {
    setupDecap();
    const inner = inner4();
    const res = run("from_net", srv6Packet({ dst: LOCAL_BLUE, inner, innerProto: 4 }));
    expect(res.retval).toBe(TC_ACT_REDIRECT);
    checkDecap(res.data, inner, true, "0a:00:00:00:00:20");
  });

  it("no member of the VRF owns the inner destination: its own drop reason", () => {
    setupDecap();
    const res = run("from_net", srv6Packet({ dst: LOCAL_BLUE, inner: inner4("10.1.0.99"), innerProto: 4 }));
    expect(res.retval).toBe(TC_ACT_SHOT);
    expect(drops(REASON.SRV6_NO_VRF_MATCH)).toBe(1n);
    expect(stat("no_vrf_match")).toBe(1n);
    // IPv6 inner to a red-only address through blue: blue has no IPv6 member.
    k.apply({
      ...empty(),
      sids: [{ sid: LOCAL_BLUE, vrfId: BLUE, behavior: "End.DT46" }],
      members: [{ vrfId: RED, ifindex: 31, address: POD6, destinations: [] }],
    });
    expect(run("from_net", srv6Packet({ dst: LOCAL_BLUE, inner: inner6(), innerProto: 41 })).retval).toBe(
      TC_ACT_SHOT,
    );
    expect(drops(REASON.SRV6_NO_VRF_MATCH)).toBe(2n);
  });

  it("a SID that is not local passes untouched (an SRH there is counted as transit)", () => {
    setupDecap();
    const plain = srv6Packet({ dst: SID1, inner: inner4(), innerProto: 4 });
    const withSrh = srv6Packet({
      dst: SID1,
      inner: inner4(),
      innerProto: 4,
      srh: { segs: [SID2, SID1], sl: 1 },
    });
    const a = run("from_net", plain);
    const b = run("from_net", withSrh);
    expect([a.retval, b.retval]).toEqual([TC_ACT_OK, TC_ACT_OK]);
    expect(a.data.equals(plain)).toBe(true);
    expect(b.data.equals(withSrh)).toBe(true);
    expect(stat("transit")).toBe(1n);
    expect(stat("decapsulated")).toBe(0n);
  });

  it("wrong inner protocol for the behaviour (IPv6 at End.DT4, IPv4 at End.DT6)", () => {
    setupDecap();
    expect(run("from_net", srv6Packet({ dst: LOCAL_DT4, inner: inner6(), innerProto: 41 })).retval).toBe(
      TC_ACT_SHOT,
    );
    expect(run("from_net", srv6Packet({ dst: LOCAL_DT6, inner: inner4(), innerProto: 4 })).retval).toBe(
      TC_ACT_SHOT,
    );
    expect(drops(REASON.SRV6_BAD_INNER)).toBe(2n);
  });

  it("truncated or inconsistent SRH: dropped as a bad SRH", () => {
    setupDecap();
    // Hdr Ext Len claims 4 segments, the packet ends after 2 and a short inner.
    const short = srv6Packet({
      dst: LOCAL_DT4,
      inner: Buffer.alloc(0),
      innerProto: 4,
      srh: { segs: [LOCAL_DT4, SID1], sl: 0, hdrlen: 8 },
    });
    expect(run("from_net", short).retval).toBe(TC_ACT_SHOT);
    // Last Entry 2 needs Hdr Ext Len 6, it says 2.
    const inconsistent = srv6Packet({
      dst: LOCAL_DT4,
      inner: inner4(),
      innerProto: 4,
      srh: { segs: [LOCAL_DT4], sl: 0, le: 2 },
    });
    expect(run("from_net", inconsistent).retval).toBe(TC_ACT_SHOT);
    expect(drops(REASON.SRV6_BAD_SRH)).toBe(2n);
    expect(stat("bad_srh")).toBe(2n);
  });

  it("segments left: not 0 at an End.DT* SID, or beyond Last Entry + 1", () => {
    setupDecap();
    const notLast = srv6Packet({
      dst: LOCAL_DT4,
      inner: inner4(),
      innerProto: 4,
      srh: { segs: [SID1, LOCAL_DT4], sl: 1 },
    });
    const beyond = srv6Packet({
      dst: LOCAL_DT4,
      inner: inner4(),
      innerProto: 4,
      srh: { segs: [LOCAL_DT4], sl: 5 },
    });
    expect(run("from_net", notLast).retval).toBe(TC_ACT_SHOT);
    expect(run("from_net", beyond).retval).toBe(TC_ACT_SHOT);
    expect(drops(REASON.SRV6_SEGLEFT)).toBe(2n);
  });

  it("hop limit: an inner TTL / hop limit of 1 is dropped", () => {
    setupDecap();
    expect(
      run("from_net", srv6Packet({ dst: LOCAL_DT4, inner: inner4(POD4, 1), innerProto: 4 })).retval,
    ).toBe(TC_ACT_SHOT);
    expect(
      run("from_net", srv6Packet({ dst: LOCAL_DT6, inner: inner6(POD6, 1), innerProto: 41 })).retval,
    ).toBe(TC_ACT_SHOT);
    expect(drops(REASON.SRV6_HOP_LIMIT)).toBe(2n);
  });

  it("malformed: every truncation and byte flip of SRv6 packets ends in a verdict, never a crash", () => {
    setupDecap();
    const seeds = [
      srv6Packet({
        dst: LOCAL_DT4,
        inner: inner4(),
        innerProto: 4,
        srh: { segs: [LOCAL_DT4, SID1, SID2], sl: 0 },
      }),
      srv6Packet({ dst: LOCAL_DT46, inner: inner6(), innerProto: 41 }),
    ];
    let rng = 12345;
    const rand = (n: number) => {
      rng = (rng * 1103515245 + 12345) & 0x7fffffff;
      return rng % n;
    };
    let runs = 0;
    for (const seed of seeds) {
      for (let len = 54; len <= seed.length; len++) {
        const p = Buffer.from(seed.subarray(0, len));
        expect([TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT]).toContain(run("from_net", p).retval);
        runs++;
      }
      for (let i = 0; i < 300; i++) {
        const p = Buffer.from(seed);
        for (let j = 0; j < 3; j++) p[14 + rand(p.length - 14)] = rand(256);
        expect([TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT]).toContain(run("from_net", p).retval);
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(600);
  });
});

describe("the agent's map write", () => {
  it("refuses a segment list longer than the datapath takes, and leaves the maps as they were", () => {
    setupEncap("HEncaps", [SID1]);
    const before = k.read();
    expect(() =>
      k.apply({
        ...empty(),
        source: SRC,
        policies: [
          {
            vrfId: RED,
            destination: "10.0.0.0/8",
            segments: [SID1, SID2, SID3, SID1, SID2],
            mode: "HEncaps",
            source: "static",
          },
        ],
      }),
    ).toThrow(/5 segments/);
    expect(k.read()).toEqual(before);
    expect(before.policies).toHaveLength(2);
  });
});
