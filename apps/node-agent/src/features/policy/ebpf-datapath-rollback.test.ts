// Issue 5 for the eBPF datapath: a failed apply keeps the last good state in the kernel and
// names the object it failed on. A malformed state is refused before any write; a kernel write
// that fails midway (the endpoints map full) is undone. Needs root, BTF and bpffs.

import { desiredEndpoint, desiredState } from "@meridian/model/testing";
import { needs, part, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentEndpoint } from "../../agent/endpoints.js";
import {
  DatapathMaps,
  endpointInfo,
  endpointKey,
  mapEntries,
  PinnedDatapath,
  writeBatch,
} from "../../datapath/index.js";
import type { NodeDesiredState } from "../../sync/channel.js";
import { Scratch } from "../../testing/netns.js";
import { EbpfDatapath, ebpfUnsupportedReason } from "./ebpf-datapath.js";
import { validateDesiredState } from "./translate.js";

// The node namespace holding the endpoint's host veth; made in beforeAll, so a skipped suite makes nothing.
let scratch: Scratch | undefined;
const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-rollback`;
const realParts = needs("a failed apply keeps the last good state in the kernel", [
  parts.nativeAddon,
  part("eBPF datapath", () => ebpfUnsupportedReason(pinDir)),
]);

const ep: AgentEndpoint = {
  id: "c2/eth0",
  containerId: "c2",
  ifname: "eth0",
  netns: "/run/netns/none",
  hostIfname: "mrdtrbhost",
  hostMac: "02:00:00:00:01:01",
  mac: "02:00:00:00:01:02",
  addresses: ["10.244.7.2", "fd00:10:244:7::2"],
  namespace: "shop",
  podName: "db-1",
  labels: { app: "db" },
  createdAt: new Date(0).toISOString(),
};

type Entry = NodeDesiredState["endpoints"][number]["entries"][number];
type IpcacheEntry = NodeDesiredState["ipcache"][number];

function state(
  revision: number,
  opts: { entries?: Partial<Entry>[]; ipcache?: IpcacheEntry[] } = {},
): NodeDesiredState {
  const base: Entry = {
    direction: "ingress",
    remoteIdentity: 301,
    protocol: 6,
    portLow: 5432,
    portHigh: 5432,
    verdict: "allow",
    ruleId: "prod/db-allow/ingress[0]",
  };
  return desiredState(revision, {
    node: { name: "n1", labels: {}, addresses: [], podCIDRs: ["10.244.7.0/24"] },
    endpoints: [
      desiredEndpoint({
        id: "e1",
        namespace: "shop",
        name: "db-1",
        labels: { app: "db" },
        ipv4: "10.244.7.2",
        ipv6: "fd00:10:244:7::2",
        identity: 300,
        policyEnforced: { ingress: true, egress: false },
        policies: ["prod/db-allow"],
        entries: (opts.entries ?? [{}]).map((e) => ({ ...base, ...e })),
      }),
    ],
    ipcache: opts.ipcache ?? [
      { prefix: "10.244.7.2/32", identity: 300, source: "endpoint" },
      { prefix: "10.244.8.7/32", identity: 301, source: "endpoint" },
    ],
  });
}

describe("validating a desired state before any write", () => {
  it.each([
    [{ entries: [{}, { portLow: 70000, portHigh: 70000 }] }, /port 70000 out of range/],
    [{ entries: [{ protocol: 250 }] }, /unknown protocol 250/],
    [{ entries: [{ remoteIdentity: 2 ** 32 }] }, /remote identity 4294967296 out of range/],
    [{ entries: [{ portLow: 9000, portHigh: 8000 }] }, /empty port range 9000-8000/],
  ])("names the endpoint and the rule (%#)", (opts, why) => {
    const s = state(1, opts);
    expect(() => validateDesiredState(s)).toThrow(
      /^endpoint shop\/db-1: policy rule "prod\/db-allow\/ingress\[0\]": /,
    );
    expect(() => validateDesiredState(s)).toThrow(why);
  });

  it("names a bad ipcache prefix and an out-of-range endpoint identity", () => {
    const bad = state(1, {
      ipcache: [{ prefix: "10.0.0.0/33", identity: 7, source: "cidr" } as IpcacheEntry],
    });
    expect(() => validateDesiredState(bad)).toThrow(/^ipcache entry "10\.0\.0\.0\/33": /);
    const s = state(1);
    s.endpoints[0]!.identity = -1;
    expect(() => validateDesiredState(s)).toThrow("endpoint shop/db-1: identity -1 out of range");
    expect(() => validateDesiredState(state(1))).not.toThrow();
  });
});

describe.skipIf(realParts.skip)("a failed apply keeps the last good state in the kernel", () => {
  let dp: EbpfDatapath | undefined;
  let maps: DatapathMaps | undefined;
  const kernel = () => {
    const m = maps!.maps;
    const dump = (n: "mdp_endpoints" | "mdp_ipcache" | "mdp_policy") =>
      mapEntries(m[n])
        .map(([k, v]) => `${k.toString("hex")}=${v.toString("hex")}`)
        .sort();
    return { endpoints: dump("mdp_endpoints"), ipcache: dump("mdp_ipcache"), policy: dump("mdp_policy") };
  };

  beforeAll(async () => {
    scratch = new Scratch("rb");
    const node = scratch.netns("node");
    scratch.veth(node, ep.hostIfname, "mrdtrbpod");
    dp = EbpfDatapath.open({ pinDir, netnsPath: node.path });
    maps = DatapathMaps.openPinned(pinDir);
    await dp.onEndpointAdded(ep);
    await dp.applyDesiredState(state(1));
  });

  afterAll(async () => {
    maps?.close();
    await dp?.close().catch(() => undefined);
    try {
      PinnedDatapath.destroy(pinDir);
    } catch {
      // never created
    }
    await scratch?.cleanup();
  });

  it("refuses a state with one malformed entry as a whole: the maps hold exactly what they held", async () => {
    const before = kernel();
    // The rule and the endpoint's ingress enforcement marker.
    expect(before.policy).toHaveLength(2);
    // Everything else in this state would change the maps: identity, ipcache, the first rule's port.
    const bad = state(2, {
      entries: [
        { portLow: 80, portHigh: 80, ruleId: "prod/web/ingress[0]" },
        { portLow: 70000, portHigh: 70000, ruleId: "prod/db-allow/ingress[1]" },
      ],
      ipcache: [{ prefix: "10.244.9.9/32", identity: 400, source: "endpoint" }],
    });
    bad.endpoints[0]!.identity = 310;
    await expect(dp!.applyDesiredState(bad)).rejects.toThrow(
      'endpoint shop/db-1: policy rule "prod/db-allow/ingress[1]": port 70000 out of range',
    );
    expect(kernel()).toEqual(before);
  });

  it("undoes the writes already made when a kernel write fails midway (endpoints map full)", async () => {
    // The endpoint's own entries are gone and the map is filled to capacity: ipcache and policy
    // are written, then the endpoint entry cannot be (E2BIG) and everything must be undone.
    for (const ip of ep.addresses) maps!.deleteEndpoint(ip);
    const m = maps!.maps.mdp_endpoints;
    const room = m.info().maxEntries - mapEntries(m).length;
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (let i = 0; i < room; i++) {
      const addr = Buffer.alloc(16);
      addr.writeUInt32BE(0xfd00ffff, 0);
      addr.writeUInt32BE(i, 12);
      keys.push(endpointKey.encode({ addr, family: 10 }));
      values.push(endpointInfo.encode({ ep_id: 1, identity: 1, ifindex: 1, flags: 0 }));
    }
    writeBatch(m, keys, values);
    const before = kernel();
    expect(before.endpoints).toHaveLength(m.info().maxEntries);

    const next = state(3, {
      entries: [{ portLow: 8000, portHigh: 8003 }],
      ipcache: [{ prefix: "10.244.9.9/32", identity: 400, source: "endpoint" }],
    });
    const err = await dp!.applyDesiredState(next).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /^endpoint shop\/db-1 \(10\.244\.7\.2\): .*; the maps were restored to the last good state$/,
    );
    expect(kernel()).toEqual(before);

    // (c) With room again, a valid state applies normally.
    for (const k of keys) m.delete(k);
    await dp!.applyDesiredState(next);
    expect(dp!.lastApply).toEqual({
      endpoints: { written: 2, removed: 0 },
      ipcache: { written: 1, removed: 2 },
      policy: { added: 1, updated: 0, removed: 1 },
    });
    const k = (await dp!.policyFor(ep)) as {
      endpoint: { identity: number };
      entries: { portLow: number; portHigh: number; ruleId: string }[];
    };
    expect(k.endpoint.identity).toBe(300);
    expect(k.entries).toEqual([
      expect.objectContaining({ portLow: 8000, portHigh: 8003, ruleId: "prod/db-allow/ingress[0]" }),
      expect.objectContaining({ verdict: "default-deny", remoteIdentity: 0xffffffff }),
    ]);
    expect(maps!.listIpcache()).toEqual([{ cidr: "10.244.9.9/32", identity: 400 }]);
  });
});
