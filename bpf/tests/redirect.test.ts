// The seam a feature plugs into (lib/hooks.h → lib/exit.h): a hook that redirects is passed
// through by the one exit — counted as redirected, reported as such for a new flow, and
// returned as TC_ACT_REDIRECT so that the kernel performs it. The program under test is from_pod
// with a stand-in feature whose egress hook redirects (tests/progs/redirect_hook.c).
import path from "node:path";
import { buildDir } from "@meridian/bpf";
import {
  drainFlowEvents,
  openFlowEvents,
  PinnedDatapath,
  POINT,
  REASON,
} from "@meridian/node-agent/datapath/index";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPacket } from "../packet";
import { freshPinDir, requireBpf, TC_ACT_OK } from "./harness";

const TC_ACT_REDIRECT = 7;
const POD = "10.1.0.10";

let dp: PinnedDatapath;
let pinDir: string;
let ring: ReturnType<typeof openFlowEvents>;

beforeAll(() => {
  requireBpf();
  pinDir = freshPinDir("redirect");
  dp = PinnedDatapath.load({
    pinDir,
    objectFor: (point) =>
      point === "from_pod"
        ? path.join(buildDir, "tests", "redirect_hook.o")
        : path.join(buildDir, `${point}.o`),
  });
  ring = openFlowEvents(dp.maps.maps.mdp_events);
});
afterAll(() => {
  ring?.close();
  dp?.close();
  if (pinDir) PinnedDatapath.destroy(pinDir);
});

describe("a feature hook that redirects", () => {
  it("is counted as redirected, reported as redirected, and returned as TC_ACT_REDIRECT", () => {
    dp.maps.setEndpoint(POD, { epId: 100, identity: 1000, ifindex: 1, flags: 0 });
    const pkt = buildPacket({ src: POD, dst: "192.0.2.1", protocol: "tcp", dport: 443 });

    const res = dp.programs.from_pod.testRun({ data: pkt });

    expect(res.retval).toBe(TC_ACT_REDIRECT);
    expect(dp.maps.counter(POINT.FROM_POD, REASON.REDIRECTED)).toEqual({
      packets: 1n,
      bytes: BigInt(pkt.length),
    });
    expect(dp.maps.counter(POINT.FROM_POD, REASON.FORWARDED)).toEqual({ packets: 0n, bytes: 0n });
    const events = drainFlowEvents(ring);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      verdict: "redirected",
      reason: "redirected",
      point: "from_pod",
      epId: 100,
    });
  });

  it("the same packet through the product's own from_pod (no feature) is forwarded", () => {
    const plain = freshPinDir("redirect-plain");
    const product = PinnedDatapath.load({ pinDir: plain });
    try {
      product.maps.setEndpoint(POD, { epId: 100, identity: 1000, ifindex: 1, flags: 0 });
      const pkt = buildPacket({ src: POD, dst: "192.0.2.1", protocol: "tcp", dport: 443 });
      expect(product.programs.from_pod.testRun({ data: pkt }).retval).toBe(TC_ACT_OK);
    } finally {
      product.close();
      PinnedDatapath.destroy(plain);
    }
  });
});
