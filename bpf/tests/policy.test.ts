// Packet-by-packet proof of the pod programs: each test builds a packet, seeds the maps
// through the agent's typed layer, runs the program with BPF_PROG_TEST_RUN and checks
// the verdict, the bytes out, the counters and the flow events.

import { EP_FLAGS, IDENTITY, POINT, REASON } from "@meridian/node-agent/datapath/index";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildPacket, type PacketSpec } from "../packet";
import { type Harness, openHarness, TC_ACT_OK, TC_ACT_SHOT } from "./harness";

const POD = "10.1.0.10";
const POD6 = "fd00:1::10";
const EP = 100;
const POD_ID = 1000;
const PEERS = 2000;
const OTHERS = 3000;
/** BPF_PROG_TEST_RUN delivers packets on lo: the pod's interface in these tests. */
const POD_IFINDEX = 1;

let h: Harness;
beforeAll(() => {
  h = openHarness("policy");
});
afterEach(() => h.reset());
afterAll(() => h?.close());

function enforced(flags = EP_FLAGS.POLICY_INGRESS | EP_FLAGS.POLICY_EGRESS) {
  h.dp.maps.setEndpoint(POD, { epId: EP, identity: POD_ID, ifindex: POD_IFINDEX, flags });
  h.dp.maps.setEndpoint(POD6, { epId: EP, identity: POD_ID, ifindex: POD_IFINDEX, flags });
}

function toPod(spec: Partial<PacketSpec> & { src: string }) {
  const pkt = buildPacket({ dst: POD, protocol: "tcp", ...spec });
  return { pkt, res: h.run("to_pod", pkt) };
}

describe("to_pod ingress policy", () => {
  it("an allowed identity and port is forwarded unchanged, counted and reported", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: PEERS, protocol: "tcp", port: 80, verdict: "allow", ruleId: 7 },
    ]);

    const { pkt, res } = toPod({ src: "10.2.0.5", dport: 80 });

    expect(res.retval).toBe(TC_ACT_OK);
    expect(res.data.equals(pkt)).toBe(true);
    expect(h.dp.maps.counter(POINT.TO_POD, REASON.FORWARDED)).toEqual({
      packets: 1n,
      bytes: BigInt(pkt.length),
    });
    const [ev, ...rest] = h.events();
    expect(rest).toHaveLength(0);
    expect(ev).toMatchObject({
      verdict: "forwarded",
      reason: "forwarded",
      point: "to_pod",
      epId: EP,
      srcIdentity: PEERS,
      dstIdentity: POD_ID,
      ruleId: 7,
      src: "10.2.0.5",
      dst: POD,
      protocol: 6,
      sport: 40000,
      dport: 80,
      bytes: pkt.length,
    });
  });

  it("anything no rule allows is dropped by default once a policy selects the endpoint", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: PEERS, protocol: "tcp", port: 80, verdict: "allow", ruleId: 7 },
    ]);

    expect(toPod({ src: "10.2.0.5", dport: 81 }).res.retval).toBe(TC_ACT_SHOT);
    expect(toPod({ src: "10.2.0.5", protocol: "udp", dport: 80 }).res.retval).toBe(TC_ACT_SHOT);
    expect(toPod({ src: "192.0.2.1", dport: 80 }).res.retval).toBe(TC_ACT_SHOT); // world identity

    expect(h.dp.maps.counter(POINT.TO_POD, REASON.POLICY_DEFAULT).packets).toBe(3n);
    const evs = h.events();
    expect(evs.map((e) => e.reason)).toEqual(["policy_default", "policy_default", "policy_default"]);
    expect(evs[2]).toMatchObject({ verdict: "dropped", srcIdentity: IDENTITY.WORLD, ruleId: 0 });
  });

  it("an endpoint no policy selects accepts everything", () => {
    enforced(0);
    expect(toPod({ src: "10.2.0.5", dport: 12345 }).res.retval).toBe(TC_ACT_OK);
  });

  it("traffic to an address that is no local endpoint is not ours and passes", () => {
    expect(h.run("to_pod", buildPacket({ src: "10.2.0.5", dst: "10.9.9.9", protocol: "tcp" })).retval).toBe(
      TC_ACT_OK,
    );
  });

  it("an explicit deny beats an allow, from the same identity or from any identity", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setIpcache("10.3.0.0/16", OTHERS);
    h.dp.maps.setPolicy(EP, [
      {
        direction: "ingress",
        identity: IDENTITY.ANY,
        protocol: "tcp",
        port: 80,
        endPort: 90,
        verdict: "allow",
        ruleId: 1,
      },
      { direction: "ingress", identity: PEERS, protocol: "tcp", port: 85, verdict: "deny", ruleId: 2 },
      { direction: "ingress", identity: PEERS, protocol: "tcp", port: 5000, verdict: "allow", ruleId: 3 },
      {
        direction: "ingress",
        identity: PEERS,
        protocol: "tcp",
        port: 4096,
        endPort: 8191,
        verdict: "deny",
        ruleId: 4,
      },
      { direction: "ingress", identity: OTHERS, protocol: "tcp", port: 443, verdict: "allow", ruleId: 5 },
      {
        direction: "ingress",
        identity: IDENTITY.ANY,
        protocol: "tcp",
        port: 443,
        verdict: "deny",
        ruleId: 6,
      },
    ]);

    expect(toPod({ src: "10.2.0.5", dport: 84 }).res.retval).toBe(TC_ACT_OK);
    expect(toPod({ src: "10.2.0.5", dport: 85 }).res.retval).toBe(TC_ACT_SHOT); // identity deny beats ANY allow
    expect(toPod({ src: "10.3.0.5", dport: 85 }).res.retval).toBe(TC_ACT_OK); // the deny was for PEERS only
    expect(toPod({ src: "10.2.0.5", dport: 5000 }).res.retval).toBe(TC_ACT_SHOT); // broader deny, same identity
    expect(toPod({ src: "10.3.0.5", dport: 443 }).res.retval).toBe(TC_ACT_SHOT); // ANY deny beats identity allow

    expect(h.dp.maps.counter(POINT.TO_POD, REASON.POLICY_DENY).packets).toBe(3n);
    const drops = h.events().filter((e) => e.verdict === "dropped");
    expect(drops.map((e) => [e.dport, e.reason, e.ruleId])).toEqual([
      [85, "policy_deny", 2],
      [5000, "policy_deny", 4],
      [443, "policy_deny", 6],
    ]);
  });

  it("a port range allows its first, middle and last port and nothing outside it", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      {
        direction: "ingress",
        identity: PEERS,
        protocol: "tcp",
        port: 8000,
        endPort: 8100,
        verdict: "allow",
        ruleId: 9,
      },
    ]);
    const verdict = (dport: number, protocol: "tcp" | "udp" = "tcp") =>
      toPod({ src: "10.2.0.5", dport, protocol }).res.retval;

    expect([7999, 8000, 8050, 8100, 8101].map((p) => verdict(p))).toEqual([
      TC_ACT_SHOT,
      TC_ACT_OK,
      TC_ACT_OK,
      TC_ACT_OK,
      TC_ACT_SHOT,
    ]);
    expect(verdict(8050, "udp")).toBe(TC_ACT_SHOT);
  });

  it("a more specific ipcache entry carves an exception out of an allowed CIDR", () => {
    enforced();
    h.dp.maps.setIpcache("10.0.0.0/8", PEERS); // toCIDR 10.0.0.0/8 …
    h.dp.maps.setIpcache("10.9.0.0/16", OTHERS); // … except 10.9.0.0/16
    h.dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: PEERS, protocol: "tcp", verdict: "allow", ruleId: 11 },
    ]);

    expect(toPod({ src: "10.8.1.1", dport: 22 }).res.retval).toBe(TC_ACT_OK);
    expect(toPod({ src: "10.9.1.1", dport: 22 }).res.retval).toBe(TC_ACT_SHOT);
    const drop = h.events().find((e) => e.verdict === "dropped");
    expect(drop?.srcIdentity).toBe(OTHERS);
  });

  it("an L3-only rule allows every protocol from that identity", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [{ direction: "ingress", identity: PEERS, verdict: "allow", ruleId: 12 }]);
    expect(toPod({ src: "10.2.0.5", protocol: "udp", dport: 53 }).res.retval).toBe(TC_ACT_OK);
    expect(toPod({ src: "10.2.0.5", protocol: "icmp" }).res.retval).toBe(TC_ACT_OK);
  });
});

describe("conntrack", () => {
  it("the reply to an allowed outbound connection passes ingress policy that allows nothing", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: PEERS, protocol: "tcp", port: 443, verdict: "allow", ruleId: 21 },
    ]);

    const out = buildPacket({ src: POD, dst: "10.2.0.5", protocol: "tcp", sport: 5555, dport: 443 });
    expect(h.run("from_pod", out).retval).toBe(TC_ACT_OK);
    const reply = buildPacket({
      src: "10.2.0.5",
      dst: POD,
      protocol: "tcp",
      sport: 443,
      dport: 5555,
      flags: 0x12,
    });
    expect(h.run("to_pod", reply).retval).toBe(TC_ACT_OK);
    const stray = buildPacket({
      src: "10.2.0.5",
      dst: POD,
      protocol: "tcp",
      sport: 443,
      dport: 5556,
      flags: 0x12,
    });
    expect(h.run("to_pod", stray).retval).toBe(TC_ACT_SHOT);

    const ct = h.dp.maps.listConntrack();
    expect(ct).toHaveLength(1);
    expect(ct[0]).toMatchObject({
      src: POD,
      dst: "10.2.0.5",
      sport: 5555,
      dport: 443,
      protocol: 6,
      ruleId: 21,
      packets: 2n,
    });
  });

  it("an established flow keeps flowing after its rule is removed, a new one does not start", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: PEERS, protocol: "udp", port: 53, verdict: "allow", ruleId: 22 },
    ]);
    const pkt = (sport: number) =>
      buildPacket({ src: POD, dst: "10.2.0.5", protocol: "udp", sport, dport: 53 });

    expect(h.run("from_pod", pkt(6000)).retval).toBe(TC_ACT_OK);
    h.dp.maps.clearPolicy(EP);
    expect(h.run("from_pod", pkt(6000)).retval).toBe(TC_ACT_OK);
    expect(h.run("from_pod", pkt(6001)).retval).toBe(TC_ACT_SHOT);
    // One verdict event per new flow, not one per packet.
    expect(h.events().map((e) => [e.sport, e.verdict])).toEqual([
      [6000, "forwarded"],
      [6001, "dropped"],
    ]);
  });

  it("a flow the agent revoked is dropped both ways, even where the pod's own policy would let it out", () => {
    // Ingress enforced, egress not: without the revocation the pod's answers would be a new flow
    // its (absent) egress policy allows.
    enforced(EP_FLAGS.POLICY_INGRESS);
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: PEERS, protocol: "tcp", port: 80, verdict: "allow", ruleId: 41 },
    ]);
    const inbound = () => toPod({ src: "10.2.0.5", sport: 40000, dport: 80, flags: 0x10 }).res.retval;
    const answer = () =>
      h.run("from_pod", buildPacket({ src: POD, dst: "10.2.0.5", protocol: "tcp", sport: 80, dport: 40000 }))
        .retval;
    expect([inbound(), answer()]).toEqual([TC_ACT_OK, TC_ACT_OK]);

    h.dp.maps.setPolicy(EP, []);
    expect(h.dp.maps.revalidateConntrack()).toMatchObject({ revoked: 1 });
    h.dp.maps.resetCounters();
    h.events();
    expect([inbound(), answer()]).toEqual([TC_ACT_SHOT, TC_ACT_SHOT]);
    expect(h.dp.maps.counter(POINT.TO_POD, REASON.POLICY_DEFAULT).packets).toBe(1n);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.POLICY_DEFAULT).packets).toBe(1n);
    expect(h.events().map((e) => [e.point, e.reason])).toEqual([
      ["to_pod", "policy_default"],
      ["from_pod", "policy_default"],
    ]);
  });

  it("an echo reply finds the echo request it answers; an unsolicited echo does not pass", () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: PEERS, protocol: "icmp", port: 8, verdict: "allow", ruleId: 24 },
    ]);
    const echo = (src: string, dst: string, type: number, id: number) => {
      const p = buildPacket({ src, dst, protocol: "icmp", icmpType: type });
      p.writeUInt16BE(id, 34 + 4);
      return p;
    };
    expect(h.run("from_pod", echo(POD, "10.2.0.5", 8, 77)).retval).toBe(TC_ACT_OK);
    expect(h.run("to_pod", echo("10.2.0.5", POD, 0, 77)).retval).toBe(TC_ACT_OK);
    expect(h.run("to_pod", echo("10.2.0.5", POD, 0, 78)).retval).toBe(TC_ACT_SHOT);
    expect(h.run("to_pod", echo("10.2.0.6", POD, 8, 99)).retval).toBe(TC_ACT_SHOT);
  });

  it("conntrack GC removes idle flows only, after which the flow meets policy again", async () => {
    enforced();
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: PEERS, protocol: "udp", port: 53, verdict: "allow", ruleId: 25 },
    ]);
    const pkt = (sport: number) =>
      buildPacket({ src: POD, dst: "10.2.0.5", protocol: "udp", sport, dport: 53 });
    expect(h.run("from_pod", pkt(7001)).retval).toBe(TC_ACT_OK);
    await new Promise((r) => setTimeout(r, 400));
    expect(h.run("from_pod", pkt(7002)).retval).toBe(TC_ACT_OK);

    expect(h.dp.maps.gcConntrack(200_000_000n)).toBe(1); // idle > 200 ms: only the first
    expect(h.dp.maps.listConntrack().map((e) => e.sport)).toEqual([7002]);
    h.dp.maps.clearPolicy(EP);
    expect(h.run("from_pod", pkt(7001)).retval).toBe(TC_ACT_SHOT); // collected: policy again
    expect(h.run("from_pod", pkt(7002)).retval).toBe(TC_ACT_OK); // still established
  });

  it("a flow allowed out of one pod still meets the ingress policy of the pod it reaches", () => {
    enforced();
    h.dp.maps.setEndpoint("10.1.0.20", {
      epId: 200,
      identity: 1001,
      ifindex: 8,
      flags: EP_FLAGS.POLICY_INGRESS,
    });
    h.dp.maps.setIpcache("10.1.0.20/32", 1001);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: 1001, protocol: "tcp", port: 80, verdict: "allow", ruleId: 23 },
    ]);
    const pkt = buildPacket({ src: POD, dst: "10.1.0.20", protocol: "tcp", dport: 80 });

    expect(h.run("from_pod", pkt).retval).toBe(TC_ACT_OK);
    expect(h.run("to_pod", pkt).retval).toBe(TC_ACT_SHOT);
    h.dp.maps.clearPolicy(200);
  });
});

describe("IPv6", () => {
  it("applies ipcache and policy to IPv6 TCP and UDP", () => {
    enforced();
    h.dp.maps.setIpcache("fd00:2::/64", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: PEERS, protocol: "tcp", port: 80, verdict: "allow", ruleId: 31 },
      { direction: "ingress", identity: PEERS, protocol: "udp", port: 5353, verdict: "allow", ruleId: 32 },
    ]);
    const v6 = (protocol: "tcp" | "udp", dport: number) =>
      h.run("to_pod", buildPacket({ src: "fd00:2::5", dst: POD6, protocol, dport }));

    const ok = buildPacket({ src: "fd00:2::5", dst: POD6, protocol: "tcp", dport: 80 });
    const res = h.run("to_pod", ok);
    expect(res.retval).toBe(TC_ACT_OK);
    expect(res.data.equals(ok)).toBe(true);
    expect(v6("tcp", 81).retval).toBe(TC_ACT_SHOT);
    expect(v6("udp", 5353).retval).toBe(TC_ACT_OK);
    expect(v6("tcp", 5353).retval).toBe(TC_ACT_SHOT);

    const evs = h.events();
    expect(evs[0]).toMatchObject({ family: 6, src: "fd00:2::5", dst: POD6, srcIdentity: PEERS, ruleId: 31 });
    expect(evs.filter((e) => e.verdict === "dropped").map((e) => e.dport)).toEqual([81, 5353]);
  });

  it("lets neighbour discovery through even when ingress is default-deny", () => {
    enforced();
    // Router solicitation/advertisement, neighbour solicitation/advertisement and redirect
    // (133–137) pass; the ICMPv6 types on either side of that range meet policy.
    const verdictOf = (icmpType: number) =>
      h.run("to_pod", buildPacket({ src: "fe80::1", dst: POD6, protocol: "icmp", icmpType })).retval;
    expect([132, 133, 134, 135, 136, 137, 138].map(verdictOf)).toEqual([
      TC_ACT_SHOT,
      TC_ACT_OK,
      TC_ACT_OK,
      TC_ACT_OK,
      TC_ACT_OK,
      TC_ACT_OK,
      TC_ACT_SHOT,
    ]);
    const echo = buildPacket({ src: "fd00:2::5", dst: POD6, protocol: "icmp", icmpType: 128 });
    expect(h.run("to_pod", echo).retval).toBe(TC_ACT_SHOT);
  });

  it("reply traffic is tracked for IPv6 too", () => {
    enforced();
    h.dp.maps.setIpcache("fd00:2::/64", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: PEERS, protocol: "tcp", port: 443, verdict: "allow", ruleId: 33 },
    ]);
    expect(
      h.run(
        "from_pod",
        buildPacket({ src: POD6, dst: "fd00:2::5", protocol: "tcp", sport: 7000, dport: 443 }),
      ).retval,
    ).toBe(TC_ACT_OK);
    expect(
      h.run("to_pod", buildPacket({ src: "fd00:2::5", dst: POD6, protocol: "tcp", sport: 443, dport: 7000 }))
        .retval,
    ).toBe(TC_ACT_OK);
  });
});

describe("from_pod egress policy", () => {
  it("allows what egress rules allow and default-denies the rest", () => {
    enforced(EP_FLAGS.POLICY_EGRESS);
    h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
    h.dp.maps.setPolicy(EP, [
      { direction: "egress", identity: PEERS, protocol: "udp", port: 53, verdict: "allow", ruleId: 41 },
    ]);
    const out = (dst: string, dport: number) =>
      h.run("from_pod", buildPacket({ src: POD, dst, protocol: "udp", dport })).retval;
    expect(out("10.2.0.53", 53)).toBe(TC_ACT_OK);
    expect(out("10.2.0.53", 54)).toBe(TC_ACT_SHOT);
    expect(out("192.0.2.53", 53)).toBe(TC_ACT_SHOT);
    // Ingress rules do not leak into egress.
    h.dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: PEERS, protocol: "udp", port: 54, verdict: "allow", ruleId: 42 },
    ]);
    expect(out("10.2.0.53", 54)).toBe(TC_ACT_SHOT);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.POLICY_DEFAULT).packets).toBe(3n);
  });

  it("a pod sending from an address that is not its own is dropped, even one of another local pod", () => {
    enforced(0); // no policy at all: only the source check stands in the way
    h.dp.maps.setEndpoint("10.1.0.20", { epId: 200, identity: 1001, ifindex: 8, flags: 0 });
    const from = (src: string, dst = "10.2.0.5") =>
      h.run("from_pod", buildPacket({ src, dst, protocol: "tcp", dport: 80 })).retval;
    expect(from(POD)).toBe(TC_ACT_OK);
    expect(from("10.77.0.1")).toBe(TC_ACT_SHOT); // no endpoint has it
    expect(from("10.1.0.20")).toBe(TC_ACT_SHOT); // another pod's, on another interface
    expect(from("fd00:1::99", "fd00:2::5")).toBe(TC_ACT_SHOT);
    expect(from(POD6, "fd00:2::5")).toBe(TC_ACT_OK);
    // Link-local IPv6 (MLD, router solicitation) stays on the pod's link and passes.
    expect(from("fe80::1:2", "ff02::16")).toBe(TC_ACT_OK);
    expect(from("::", "ff02::16")).toBe(TC_ACT_OK);
    expect(h.dp.maps.counter(POINT.FROM_POD, REASON.INVALID_SOURCE).packets).toBe(3n);
    const drops = h.events().filter((e) => e.verdict === "dropped");
    expect(drops.map((e) => [e.reason, e.src])).toEqual([
      ["invalid_source", "10.77.0.1"],
      ["invalid_source", "10.1.0.20"],
      ["invalid_source", "fd00:1::99"],
    ]);
  });
});
