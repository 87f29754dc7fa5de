// What the flow events say about the decision: a default deny names the endpoint's enforcement
// marker (the policies that put it under enforcement), an allow or an explicit deny its rule, and
// drop events are rate-limited per reason with the held-back count carried on the next event,
// while the packet counters stay exact.

import { EP_FLAGS, enforcementEntries, IDENTITY, POINT, REASON } from "@meridian/node-agent/datapath/index";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildPacket, type PacketSpec } from "../packet";
import { type Harness, openHarness, TC_ACT_OK, TC_ACT_SHOT } from "./harness";

const POD = "10.1.0.10";
const EP = 100;
const POD_ID = 1000;
const PEERS = 2000;
const POD_IFINDEX = 1;
const INGRESS_MARK = 0x1234abcd;
const EGRESS_MARK = 0x0badf00d;
/** bpf/lib/exit.h: DROP_EVENTS_PER_SEC. */
const DROP_EVENTS_PER_SEC = 256;

let h: Harness;
beforeAll(() => {
  h = openHarness("flowev");
});
afterEach(() => h.reset());
afterAll(() => h?.close());

function endpoint(flags = EP_FLAGS.POLICY_INGRESS | EP_FLAGS.POLICY_EGRESS) {
  h.dp.maps.setEndpoint(POD, { epId: EP, identity: POD_ID, ifindex: POD_IFINDEX, flags });
  h.dp.maps.setIpcache("10.2.0.0/16", PEERS);
}

/** Rules plus the markers, as the agent writes them. */
function policy(withMarkers = true) {
  const rules = [
    { direction: "ingress", identity: PEERS, protocol: "tcp", port: 80, verdict: "allow", ruleId: 7 },
    { direction: "ingress", identity: PEERS, protocol: "tcp", port: 23, verdict: "deny", ruleId: 8 },
    { direction: "egress", identity: PEERS, protocol: "udp", port: 53, verdict: "allow", ruleId: 9 },
  ] as const;
  h.dp.maps.setPolicy(EP, [...rules]);
  if (!withMarkers) return;
  h.dp.maps.setPolicyEntries(EP, [
    ...h.dp.maps.policyEntries(EP),
    ...enforcementEntries(EP, [
      { direction: "ingress", ruleId: INGRESS_MARK },
      { direction: "egress", ruleId: EGRESS_MARK },
    ]),
  ]);
}

function toPod(spec: Partial<PacketSpec> = {}) {
  return h.run("to_pod", buildPacket({ src: "10.2.0.5", dst: POD, protocol: "tcp", ...spec }));
}
function fromPod(spec: Partial<PacketSpec> = {}) {
  return h.run("from_pod", buildPacket({ src: POD, dst: "10.2.0.5", protocol: "udp", ...spec }));
}

describe("the deciding rule on every verdict", () => {
  it("a default-deny drop names the enforcement marker of its direction", () => {
    endpoint();
    policy();
    expect(toPod({ dport: 81 }).retval).toBe(TC_ACT_SHOT);
    expect(fromPod({ dport: 54 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events().map((e) => [e.point, e.verdict, e.reason, e.ruleId])).toEqual([
      ["to_pod", "dropped", "policy_default", INGRESS_MARK],
      ["from_pod", "dropped", "policy_default", EGRESS_MARK],
    ]);
  });

  it("without a marker the default deny still drops, naming no rule", () => {
    endpoint();
    policy(false);
    expect(toPod({ dport: 81 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events()).toMatchObject([{ reason: "policy_default", ruleId: 0 }]);
  });

  it("an allow names its rule and an explicit deny its rule, markers or not", () => {
    endpoint();
    policy();
    expect(toPod({ dport: 80 }).retval).toBe(TC_ACT_OK);
    expect(toPod({ dport: 23, sport: 40001 }).retval).toBe(TC_ACT_SHOT);
    expect(fromPod({ dport: 53 }).retval).toBe(TC_ACT_OK);
    expect(h.events().map((e) => [e.verdict, e.reason, e.ruleId])).toEqual([
      ["forwarded", "forwarded", 7],
      ["dropped", "policy_deny", 8],
      ["forwarded", "forwarded", 9],
    ]);
  });

  it("a marker never decides: a peer that carried the reserved identity is still default-denied", () => {
    endpoint();
    policy();
    h.dp.maps.setIpcache("10.3.0.0/16", IDENTITY.ENFORCEMENT);
    expect(toPod({ src: "10.3.0.1", dport: 80 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events()).toMatchObject([{ reason: "policy_default", ruleId: INGRESS_MARK }]);
  });

  it("an endpoint without enforcement in a direction ignores its marker there", () => {
    endpoint(EP_FLAGS.POLICY_INGRESS);
    policy();
    expect(fromPod({ dport: 5353 }).retval).toBe(TC_ACT_OK);
    expect(h.events()).toMatchObject([{ verdict: "forwarded", ruleId: 0 }]);
  });

  it("an established flow revoked by a narrower policy drops naming the marker", () => {
    endpoint();
    policy();
    expect(toPod({ dport: 80 }).retval).toBe(TC_ACT_OK);
    // The allow goes; the markers stay.
    h.dp.maps.setPolicyEntries(
      EP,
      h.dp.maps.policyEntries(EP).filter((e) => e.ruleId !== 7),
    );
    expect(h.dp.maps.revalidateConntrack()).toMatchObject({ revoked: 1 });
    h.events();
    expect(toPod({ dport: 80 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events()).toMatchObject([{ verdict: "dropped", ruleId: INGRESS_MARK }]);
  });
});

describe("bounded drop events", () => {
  it("a flood of one reason: counters exact, events bounded, the held-back count carried on", async () => {
    endpoint();
    policy();
    const flood = 1000;
    const pkt = buildPacket({ src: "10.2.0.5", dst: POD, protocol: "tcp", dport: 81 });
    expect(h.dp.programs.to_pod.testRun({ data: pkt, repeat: flood }).retval).toBe(TC_ACT_SHOT);

    expect(h.dp.maps.counter(POINT.TO_POD, REASON.POLICY_DEFAULT)).toEqual({
      packets: BigInt(flood),
      bytes: BigInt(flood * pkt.length),
    });
    const first = h.events();
    expect(first).toHaveLength(DROP_EVENTS_PER_SEC);
    expect(first.every((e) => e.reason === "policy_default" && e.suppressed === 0)).toBe(true);
    expect(h.dp.maps.counter(POINT.TO_POD, REASON.EVENTS_SUPPRESSED).packets).toBe(
      BigInt(flood - DROP_EVENTS_PER_SEC),
    );

    // Another reason has its own budget: an explicit deny still reports at once.
    expect(toPod({ dport: 23 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events()).toMatchObject([{ reason: "policy_deny", ruleId: 8, suppressed: 0 }]);

    // Next window: the first event of the reason says how many were held back.
    await new Promise((r) => setTimeout(r, 1100));
    expect(toPod({ dport: 82 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events()).toMatchObject([
      { reason: "policy_default", ruleId: INGRESS_MARK, suppressed: flood - DROP_EVENTS_PER_SEC },
    ]);
    expect(toPod({ dport: 83 }).retval).toBe(TC_ACT_SHOT);
    expect(h.events()).toMatchObject([{ reason: "policy_default", suppressed: 0 }]);
  });

  it("forwarded events are not limited (one per new flow already)", () => {
    endpoint();
    policy();
    for (let i = 0; i < DROP_EVENTS_PER_SEC + 10; i++)
      expect(toPod({ dport: 80, sport: 20000 + i }).retval).toBe(0);
    expect(h.events()).toHaveLength(DROP_EVENTS_PER_SEC + 10);
  });
});
