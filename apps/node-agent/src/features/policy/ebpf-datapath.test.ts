// The agent's eBPF datapath against the real kernel: endpoints, ipcache and policy written from a
// desired state, only differences applied, adopted by a new instance, removed on DEL. The
// host-side veth lives in a namespace this test creates. Needs root, BTF and bpffs.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { desiredEndpoint, desiredState } from "@meridian/model/testing";
import { needs, part, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentEndpoint } from "../../agent/endpoints.js";
import { PinnedDatapath } from "../../datapath/index.js";
import { type NodeDesiredState, ReservedIdentity } from "../../sync/channel.js";
import { Scratch } from "../../testing/netns.js";
import { EbpfDatapath, ebpfUnsupportedReason } from "./ebpf-datapath.js";
import { desiredEndpointFor, ruleNumber, rulesOf } from "./translate.js";

// The node namespace holding the endpoint's host veth; made in beforeAll, so a skipped suite makes nothing.
let scratch: Scratch | undefined;
let nsPath = "";
const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-agent`;
const realParts = needs("the eBPF datapath in the kernel", [
  parts.nativeAddon,
  part("eBPF datapath", () => ebpfUnsupportedReason(pinDir)),
]);

const ep: AgentEndpoint = {
  id: "c1/eth0",
  containerId: "c1",
  ifname: "eth0",
  netns: "/run/netns/none",
  hostIfname: "mrdtest0host",
  hostMac: "02:00:00:00:00:01",
  mac: "02:00:00:00:00:02",
  addresses: ["10.244.9.2", "fd00:10:244:9::2"],
  namespace: "shop",
  podName: "db-1",
  labels: { app: "db" },
  createdAt: new Date(0).toISOString(),
};

function state(revision: number, ports: [number, number] = [5432, 5432]): NodeDesiredState {
  return desiredState(revision, {
    node: { name: "n1", labels: {}, addresses: [], podCIDRs: ["10.244.9.0/24"] },
    endpoints: [
      desiredEndpoint({
        id: "e1",
        namespace: "shop",
        name: "db-1",
        labels: { app: "db" },
        ipv4: "10.244.9.2",
        ipv6: "fd00:10:244:9::2",
        identity: 300,
        policyEnforced: { ingress: true, egress: false },
        enforcedBy: { ingress: ["shop/db"], egress: [] },
        policies: ["shop/db"],
        entries: [
          {
            direction: "ingress",
            remoteIdentity: 301,
            protocol: 6,
            portLow: ports[0],
            portHigh: ports[1],
            verdict: "allow",
            ruleId: "shop/db/ingress[0]",
          },
        ],
      }),
    ],
    ipcache: [
      { prefix: "10.244.9.2/32", identity: 300, source: "endpoint" },
      { prefix: "10.244.8.7/32", identity: 301, source: "endpoint" },
    ],
  });
}

describe("translating desired state", () => {
  it("names rules by a stable, non-zero number", () => {
    expect(ruleNumber("shop/db/ingress[0]")).toBe(ruleNumber("shop/db/ingress[0]"));
    expect(ruleNumber("shop/db/ingress[0]")).not.toBe(ruleNumber("shop/db/ingress[1]"));
    expect(ruleNumber("")).toBeGreaterThan(0);
  });

  it("turns entries into rules: every port means no port, protocol numbers become names", () => {
    const d = state(1).endpoints[0]!;
    const all = { ...d, entries: [{ ...d.entries[0]!, protocol: 0, portLow: 0, portHigh: 65535 }] };
    expect(rulesOf(d)).toEqual([
      {
        direction: "ingress",
        identity: 301,
        protocol: "tcp",
        port: 5432,
        endPort: 5432,
        verdict: "allow",
        ruleId: ruleNumber("shop/db/ingress[0]"),
      },
    ]);
    expect(rulesOf(all)[0]).toMatchObject({ protocol: "any" });
    expect(rulesOf(all)[0]).not.toHaveProperty("port");
  });

  it("finds an endpoint's desired entry by address, then by namespace/name", () => {
    expect(desiredEndpointFor(state(1), ep)?.identity).toBe(300);
    const moved = { ...ep, addresses: ["10.244.9.99"] };
    expect(desiredEndpointFor(state(1), moved)?.identity).toBe(300);
    expect(desiredEndpointFor(state(1), { ...moved, podName: "other" })).toBeUndefined();
  });
});

describe.skipIf(realParts.skip)("the eBPF datapath in the kernel", () => {
  let dp: EbpfDatapath | undefined;

  beforeAll(() => {
    scratch = new Scratch("ebpf");
    const node = scratch.netns("node");
    nsPath = node.path;
    scratch.veth(node, ep.hostIfname, "mrdtest0pod");
  });

  afterAll(async () => {
    await dp?.close().catch(() => undefined);
    PinnedDatapath.destroy(pinDir);
    await scratch?.cleanup();
  });

  it("attaches to the host veth with the endpoint at init identity until the control plane names it", async () => {
    dp = EbpfDatapath.open({ pinDir, netnsPath: nsPath });
    await dp.onEndpointAdded(ep);
    const k = (await dp.policyFor(ep)) as { attached: string[]; endpoint: { identity: number } };
    expect(k.attached).toEqual(["from_pod", "to_pod"]);
    expect(k.endpoint.identity).toBe(ReservedIdentity.init);
  });

  it("writes endpoint, ipcache and policy from the desired state; the same state again changes nothing", async () => {
    await dp!.applyDesiredState(state(1));
    expect(dp!.lastApply).toEqual({
      endpoints: { written: 2, removed: 0 },
      ipcache: { written: 2, removed: 0 },
      // The rule and the ingress enforcement marker (bpf/lib/policy.h).
      policy: { added: 2, updated: 0, removed: 0 },
    });
    await dp!.applyDesiredState({ ...state(2) });
    expect(dp!.lastApply).toEqual({
      endpoints: { written: 0, removed: 0 },
      ipcache: { written: 0, removed: 0 },
      policy: { added: 0, updated: 0, removed: 0 },
    });
    const k = (await dp!.policyFor(ep)) as {
      endpoint: { identity: number; ingressEnforced: boolean; egressEnforced: boolean };
      entries: { portLow: number; portHigh: number; ruleId: string; verdict: string }[];
    };
    expect(k.endpoint).toMatchObject({ identity: 300, ingressEnforced: true, egressEnforced: false });
    expect(k.entries).toEqual([
      expect.objectContaining({
        portLow: 5432,
        portHigh: 5432,
        verdict: "allow",
        ruleId: "shop/db/ingress[0]",
      }),
      expect.objectContaining({
        direction: "ingress",
        remoteIdentity: 0xffffffff,
        verdict: "default-deny",
        ruleId: "default-deny (shop/db)",
      }),
    ]);
  });

  it("applies a changed range as the difference of its port blocks", async () => {
    await dp!.applyDesiredState(state(3, [8000, 8003]));
    expect(dp!.lastApply?.policy).toEqual({ added: 1, updated: 0, removed: 1 });
    const k = (await dp!.policyFor(ep)) as { entries: { portLow: number; portHigh: number }[] };
    expect(k.entries.map((e) => [e.portLow, e.portHigh])).toEqual([
      [8000, 8003],
      [0, 65535],
    ]);
  });

  it("a new instance adopts the pins and keeps the endpoint's identity before it hears from the control plane", async () => {
    await dp!.close();
    dp = EbpfDatapath.open({ pinDir, netnsPath: nsPath });
    await dp.onEndpointAdded(ep);
    const k = (await dp.policyFor(ep)) as { endpoint: { identity: number }; entries: unknown[] };
    expect(k.endpoint.identity).toBe(300);
    expect(k.entries).toHaveLength(2);
    expect(dp.counters()).toBeInstanceOf(Array);
  });

  it("removing the endpoint deletes its entries and detaches its programs", async () => {
    await dp!.onEndpointRemoved(ep);
    const k = (await dp!.policyFor(ep)) as { endpoint: unknown; attached: string[]; entries: unknown[] };
    expect(k).toMatchObject({ endpoint: null, attached: [], entries: [] });
    expect(readdirSync(path.join(pinDir, "links"))).toEqual([]);
    // DEL is idempotent.
    await dp!.onEndpointRemoved(ep);
    expect(existsSync(pinDir)).toBe(true);
  });
});
