// The egress subsystem against a real pinned datapath: a node's desired state in, the egress maps
// out (decoded back from the kernel); a state it cannot write is refused and the last good one
// stays; status fits its schema. Also: the maps' TypeScript layouts against the objects' BTF.
import dgram from "node:dgram";
import { objectPath } from "@meridian/bpf";
import { desiredEndpoint, desiredState } from "@meridian/model/testing";
import { PinnedDatapath } from "@meridian/node-agent/datapath/index";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { Fields, StructLayout } from "../../datapath/layout";
import { btfStructs, expectLayoutMatchesBtf } from "../../testing/btf";
import type { FeatureContext } from "../feature";
import { EgressFeature, egressStatusSchema } from "./feature";
import { egressLayouts } from "./kernel";
import { egressPolicyId } from "./plan";

const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-egressfeat`;
const dp = PinnedDatapath.load({ pinDir });
afterAll(() => {
  dp.close();
  PinnedDatapath.destroy(pinDir);
});

describe("egress layouts match the BTF of from_pod.o / to_net.o", () => {
  const structs = new Map([...btfStructs(objectPath("from_pod")), ...btfStructs(objectPath("to_net"))]);
  for (const l of egressLayouts) {
    it(`struct ${l.cName}`, () => expectLayoutMatchesBtf(l as unknown as StructLayout<Fields>, structs));
  }
});

const egress = (gatewayActive: boolean, destinationCIDRs = ["203.0.113.0/24"]) => [
  {
    policy: "partner",
    isSource: true,
    isGateway: false,
    localSourceEndpoints: ["shop/web"],
    sourceIPs: [],
    destinationCIDRs,
    excludedCIDRs: ["203.0.113.128/25"],
    gateways: [{ node: "n2", nodeIP: "192.168.0.2", egressIP: "192.168.0.2", active: gatewayActive }],
    ha: { healthCheckIntervalMs: 200, healthCheckTimeoutMs: 600, maxActiveGateways: 1 },
  },
];
const state = (rev: number, gatewayActive = true, destinationCIDRs?: string[]) =>
  desiredState(rev, {
    node: { name: "n1", labels: {}, addresses: ["192.168.0.1/24"], podCIDRs: ["10.1.0.0/24"] },
    endpoints: [desiredEndpoint({ namespace: "shop", name: "web", identity: 300, ipv4: "10.1.0.10" })],
    egressGateway: egress(gatewayActive, destinationCIDRs),
  });

describe("EgressFeature", () => {
  const ctx = {
    log: pino({ level: "silent" }),
    endpoint: () => undefined,
    config: { nodeName: "n1" },
  } as unknown as FeatureContext;
  // Health probes on loopback only (port 0: the kernel picks one), so the test touches no network.
  const f = new EgressFeature(ctx, { pinDir, healthBind: "127.0.0.1", healthPort: 0 });
  const view = () =>
    (f as unknown as { view(): Record<string, unknown> }).view() as {
      datapath: { entries: unknown[]; gateways: unknown[] };
      error: string | null;
    };

  it("writes the desired state's egress section into the maps, and follows changes", async () => {
    await f.start();
    await f.apply(state(1));
    const id = egressPolicyId("partner");
    expect(view().datapath.entries).toEqual(
      expect.arrayContaining([
        { source: "10.1.0.10", destination: "203.0.113.0/24", policyId: id, excluded: false },
        { source: "10.1.0.10", destination: "203.0.113.128/25", policyId: id, excluded: true },
      ]),
    );
    expect(view().datapath.entries).toHaveLength(2);
    expect(view().datapath.gateways).toEqual([
      { policyId: id, family: 4, mode: "remote", nexthop: "192.168.0.2" },
    ]);
    const s = f.status();
    expect(() => egressStatusSchema.parse(s)).not.toThrow();
    expect(s).toMatchObject({
      state: "ok",
      detail: {
        policies: [
          { policy: "partner", role: "source", activeGateway: "n2", selectedLocalPods: 1, snatEntries: 0 },
        ],
      },
    });

    await f.apply(state(2, false));
    expect(view().datapath.gateways).toEqual([{ policyId: id, family: 4, mode: "none" }]);
    expect(f.status()).toMatchObject({ state: "degraded" });

    await f.apply(desiredState(3));
    expect(view().datapath).toEqual({ entries: [], gateways: [] });
  });

  it("refuses a state it cannot write, naming why, and keeps the last good one", async () => {
    await f.apply(state(4));
    await expect(f.apply(state(5, true, ["203.0.113.0/99"]))).rejects.toThrow(/egress: bad prefix length/);
    expect(f.lastError()).toMatch(/bad prefix length/);
    expect(view().datapath.entries).toHaveLength(2);
    expect(f.status()).toMatchObject({ state: "error" });
    await f.apply(state(6));
    expect(f.lastError()).toBeUndefined();
    await f.close();
  });

  it("health probes that cannot bind their port: egress still applies, without failover, and says so", async () => {
    const taken = dgram.createSocket("udp4");
    await new Promise<void>((r) => taken.bind(0, "127.0.0.1", () => r()));
    const g = new EgressFeature(ctx, { pinDir, healthBind: "127.0.0.1", healthPort: taken.address().port });
    try {
      await g.start();
      await g.apply(state(7));
      expect(g.status()).toMatchObject({
        state: "degraded",
        message: expect.stringMatching(/gateway health checks are off .*: no failover/),
      });
    } finally {
      await g.close();
      taken.close();
    }
  });

  it("without an eBPF datapath it says it is off", async () => {
    const off = new EgressFeature(ctx, {});
    await off.start();
    expect(off.status()).toMatchObject({ state: "unknown", message: expect.stringMatching(/not enforced/) });
  });
});
