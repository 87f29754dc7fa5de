// The agent-facing datapath API against the real kernel: load into a private pin dir,
// reconcile policy idempotently, survive a restart, read counters and events.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { buildPacket } from "@meridian/bpf/packet";
import { isBpffs } from "@meridian/native";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drainFlowEvents, type FlowEvent, openFlowEvents, subscribeFlowEvents } from "./events";
import { EP_FLAGS, POINT, REASON } from "./layout";
import { PinnedDatapath } from "./loader";
import { DatapathMaps, FEATURE_MAP_NAMES, MAP_NAMES } from "./maps";
import type { PolicyRule } from "./policy";

const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-agent`;
let dp: PinnedDatapath;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("datapath tests need root (CAP_BPF)");
  if (!isBpffs("/sys/fs/bpf")) execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  dp = PinnedDatapath.load({ pinDir });
});
afterAll(() => {
  dp?.close();
  PinnedDatapath.destroy(pinDir);
});

const RULES: PolicyRule[] = [
  { direction: "ingress", identity: 2000, protocol: "tcp", port: 80, verdict: "allow", ruleId: 1 },
  {
    direction: "ingress",
    identity: 2000,
    protocol: "tcp",
    port: 8000,
    endPort: 8100,
    verdict: "allow",
    ruleId: 2,
  },
  { direction: "egress", identity: 0, protocol: "udp", port: 53, verdict: "allow", ruleId: 3 },
];

describe("PinnedDatapath", () => {
  it("pins every map under its own pin dir", () => {
    expect(
      readdirSync(pinDir)
        .filter((f) => f !== "links")
        .sort(),
    ).toEqual([...MAP_NAMES, ...FEATURE_MAP_NAMES].sort());
  });

  it("setPolicy writes the difference only, and applying the same rules twice changes nothing", () => {
    const first = dp.maps.setPolicy(10, RULES);
    expect(first.added).toBe(dp.maps.policyEntries(10).length);
    expect(first.added).toBeGreaterThan(3); // the range became several prefixes
    expect(dp.maps.setPolicy(10, RULES)).toEqual({ added: 0, updated: 0, removed: 0 });

    const changed = dp.maps.setPolicy(10, [
      RULES[0] as PolicyRule,
      { ...(RULES[2] as PolicyRule), ruleId: 9 },
    ]);
    expect(changed).toEqual({ added: 0, updated: 1, removed: first.added - 2 });
    // Another endpoint's entries are untouched.
    dp.maps.setPolicy(11, RULES);
    dp.maps.clearPolicy(10);
    expect(dp.maps.policyEntries(10)).toHaveLength(0);
    expect(dp.maps.policyEntries(11).length).toBe(first.added);
    dp.maps.clearPolicy(11);
  });

  it("endpoints and ipcache entries round-trip and delete", () => {
    dp.maps.setEndpoint("10.1.0.10", {
      epId: 10,
      identity: 1000,
      ifindex: 4,
      flags: EP_FLAGS.POLICY_INGRESS,
    });
    dp.maps.setEndpoint("fd00::10", { epId: 10, identity: 1000, ifindex: 4, flags: 0 });
    dp.maps.setIpcache("10.0.0.0/8", 3000);
    dp.maps.setIpcache("fd00:2::/64", 2000);
    expect(dp.maps.getEndpoint("10.1.0.10")).toEqual({ epId: 10, identity: 1000, ifindex: 4, flags: 1 });
    expect(
      dp.maps
        .listEndpoints()
        .map((e) => e.ip)
        .sort(),
    ).toEqual(["10.1.0.10", "fd00::10"]);
    expect(dp.maps.listIpcache().sort((a, b) => a.identity - b.identity)).toEqual([
      { cidr: "fd00:2::/64", identity: 2000 },
      { cidr: "10.0.0.0/8", identity: 3000 },
    ]);
    expect(dp.maps.deleteEndpoint("10.1.0.10")).toBe(true);
    expect(dp.maps.deleteEndpoint("10.1.0.10")).toBe(false);
    dp.maps.deleteEndpoint("fd00::10");
    dp.maps.deleteIpcache("10.0.0.0/8");
    dp.maps.deleteIpcache("fd00:2::/64");
    expect(dp.maps.listIpcache()).toHaveLength(0);
  });

  it("syncEndpoints and syncIpcache converge on the wanted set and are idempotent", () => {
    const eps = new Map([
      ["10.1.0.1", { epId: 1, identity: 100, ifindex: 3, flags: 0 }],
      ["10.1.0.2", { epId: 2, identity: 100, ifindex: 4, flags: EP_FLAGS.POLICY_INGRESS }],
      ["fd00::2", { epId: 2, identity: 100, ifindex: 4, flags: EP_FLAGS.POLICY_INGRESS }],
    ]);
    expect(dp.maps.syncEndpoints(eps)).toEqual({ written: 3, removed: 0 });
    expect(dp.maps.syncEndpoints(eps)).toEqual({ written: 0, removed: 0 });
    eps.delete("10.1.0.1");
    eps.set("10.1.0.2", { epId: 2, identity: 101, ifindex: 4, flags: EP_FLAGS.POLICY_INGRESS });
    expect(dp.maps.syncEndpoints(eps)).toEqual({ written: 1, removed: 1 });
    expect(dp.maps.getEndpoint("10.1.0.2")?.identity).toBe(101);

    const ipc = new Map([
      ["10.0.0.0/8", 3000],
      ["10.9.0.0/16", 3001],
    ]);
    expect(dp.maps.syncIpcache(ipc)).toEqual({ written: 2, removed: 0 });
    expect(dp.maps.syncIpcache(ipc)).toEqual({ written: 0, removed: 0 });
    expect(dp.maps.syncIpcache(new Map([["10.9.0.0/16", 3002]]))).toEqual({ written: 1, removed: 1 });

    expect(dp.maps.syncEndpoints(new Map())).toEqual({ written: 0, removed: 2 });
    expect(dp.maps.syncIpcache(new Map())).toEqual({ written: 0, removed: 1 });
  });

  it("a restarted agent opens the same maps from the pins and sees the state", () => {
    dp.maps.setIpcache("192.0.2.0/24", 4242);
    const reopened = DatapathMaps.openPinned(pinDir);
    expect(reopened.maps.mdp_ipcache.info().id).toBe(dp.maps.maps.mdp_ipcache.info().id);
    expect(reopened.listIpcache()).toEqual([{ cidr: "192.0.2.0/24", identity: 4242 }]);
    reopened.deleteIpcache("192.0.2.0/24");
    reopened.close();
    expect(dp.maps.listIpcache()).toHaveLength(0);
  });

  it("counters and flow events report a drop with its reason", async () => {
    dp.maps.resetCounters();
    dp.maps.setEndpoint("10.1.0.10", {
      epId: 10,
      identity: 1000,
      ifindex: 4,
      flags: EP_FLAGS.POLICY_INGRESS,
    });
    const got: FlowEvent[] = [];
    const sub = subscribeFlowEvents(dp.maps.maps.mdp_events, (evs) => got.push(...evs));
    const res = dp.programs.to_pod.testRun({
      data: buildPacket({ src: "198.51.100.7", dst: "10.1.0.10", protocol: "udp", dport: 5000 }),
    });
    expect(res.retval).toBe(2);
    const deadline = Date.now() + 3000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    sub.close();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      verdict: "dropped",
      reason: "policy_default",
      src: "198.51.100.7",
      dport: 5000,
      epId: 10,
    });
    expect(dp.maps.readCounters()).toEqual([
      expect.objectContaining({
        point: "to_pod",
        reason: "policy_default",
        reasonCode: REASON.POLICY_DEFAULT,
        packets: 1n,
      }),
    ]);
    expect(dp.maps.counter(POINT.TO_POD, REASON.POLICY_DEFAULT).packets).toBe(1n);
    dp.maps.deleteEndpoint("10.1.0.10");
    dp.maps.resetCounters();
    const rb = openFlowEvents(dp.maps.maps.mdp_events);
    expect(drainFlowEvents(rb)).toHaveLength(0);
    rb.close();
  });

  it("revalidateConntrack stops established flows a narrower policy no longer allows, both ways, and only those", () => {
    const POD = "10.1.0.20";
    const PEER = "10.2.0.5";
    dp.maps.setEndpoint(POD, { epId: 20, identity: 1000, ifindex: 4, flags: EP_FLAGS.POLICY_INGRESS });
    dp.maps.setIpcache("10.2.0.0/16", 2000);
    dp.maps.setPolicy(20, [
      { direction: "ingress", identity: 2000, protocol: "tcp", port: 80, verdict: "allow", ruleId: 1 },
      { direction: "ingress", identity: 2000, protocol: "tcp", port: 443, verdict: "allow", ruleId: 2 },
      { direction: "ingress", identity: 0, protocol: "icmp", port: 8, verdict: "allow", ruleId: 3 },
    ]);
    const toPod = (sport: number, dport: number) =>
      dp.programs.to_pod.testRun({
        data: buildPacket({ src: PEER, dst: POD, protocol: "tcp", sport, dport, flags: 0x10 }),
      }).retval;
    // The pod's answers go through from_pod (its egress is not enforced).
    const fromPod = (sport: number, dport: number) =>
      dp.programs.from_pod.testRun({
        data: buildPacket({ src: POD, dst: PEER, protocol: "tcp", sport, dport, flags: 0x10 }),
      }).retval;
    const ping = () =>
      dp.programs.to_pod.testRun({
        data: buildPacket({ src: PEER, dst: POD, protocol: "icmp", icmpType: 8 }),
      }).retval;
    expect([toPod(40000, 80), toPod(40001, 443), ping()]).toEqual([0, 0, 0]);
    const flows = () =>
      dp.maps
        .listConntrack()
        .filter((c) => c.dst === POD)
        .map((c) => [c.dport, c.ruleId, c.revoked])
        .sort();
    expect(flows()).toHaveLength(3);
    // Nothing changed: every flow stays as it was.
    expect(dp.maps.revalidateConntrack()).toEqual({ checked: 3, revoked: 0, restored: 0 });

    // Port 80 is no longer allowed; 443 (under a new rule id) and ping still are.
    dp.maps.setPolicy(20, [
      { direction: "ingress", identity: 2000, protocol: "tcp", port: 443, verdict: "allow", ruleId: 7 },
      { direction: "ingress", identity: 0, protocol: "icmp", port: 8, verdict: "allow", ruleId: 3 },
    ]);
    // Without revalidation the established port-80 flow still passes on its conntrack entry.
    expect(toPod(40000, 80)).toBe(0);
    expect(dp.maps.revalidateConntrack()).toEqual({ checked: 3, revoked: 1, restored: 0 });
    expect(toPod(40000, 80)).toBe(2);
    // The pod's side of the revoked flow is dropped too, so it cannot re-open it as its own.
    expect(fromPod(80, 40000)).toBe(2);
    expect(toPod(40000, 80)).toBe(2);
    expect([toPod(40001, 443), fromPod(443, 40001), ping()]).toEqual([0, 0, 0]);
    expect(flows()).toEqual([
      [0, 3, false],
      [443, 7, false],
      [80, 0, true],
    ]);

    // An explicit deny for the peer's identity beats the allow: the remaining TCP flow goes too.
    dp.maps.setPolicy(20, [
      { direction: "ingress", identity: 2000, protocol: "tcp", port: 443, verdict: "allow", ruleId: 7 },
      { direction: "ingress", identity: 2000, verdict: "deny", ruleId: 8 },
    ]);
    expect(dp.maps.revalidateConntrack()).toEqual({ checked: 3, revoked: 2, restored: 0 });
    dp.maps.resetCounters();
    expect(toPod(40001, 443)).toBe(2);
    expect(dp.maps.counter(POINT.TO_POD, REASON.POLICY_DENY).packets).toBe(1n);

    // No policy at all: the same connections carry on.
    dp.maps.setPolicy(20, []);
    dp.maps.setEndpoint(POD, { epId: 20, identity: 1000, ifindex: 4, flags: 0 });
    expect(dp.maps.revalidateConntrack()).toEqual({ checked: 3, revoked: 0, restored: 3 });
    expect([toPod(40000, 80), fromPod(80, 40000), toPod(40001, 443), ping()]).toEqual([0, 0, 0, 0]);

    // The endpoint went away: its entries are deleted (the programs would ignore them anyway).
    dp.maps.deleteEndpoint(POD);
    expect(dp.maps.revalidateConntrack()).toEqual({ checked: 3, revoked: 0, restored: 0 });
    expect(flows()).toHaveLength(0);
    dp.maps.deleteIpcache("10.2.0.0/16");
    dp.maps.resetCounters();
    dp.maps.flushConntrack();
    const rb = openFlowEvents(dp.maps.maps.mdp_events);
    drainFlowEvents(rb);
    rb.close();
  });

  it("a failed load leaves no pin dir behind", () => {
    const dir = `${pinDir}-broken`;
    expect(() => PinnedDatapath.load({ pinDir: dir, objectFor: () => "/nonexistent.o" })).toThrow(
      /ENOENT|No such file/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses a pin dir that is not on bpffs", () => {
    expect(() => PinnedDatapath.load({ pinDir: "/tmp/not-bpffs/meridian" })).toThrow(/not a bpffs/);
    expect(existsSync("/tmp/not-bpffs")).toBe(false);
  });
});
