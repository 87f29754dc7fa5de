// The ipcache with owners, against the kernel: the control plane's desired state and the DNS
// proxy each sync only their own claims, the pinned map holds the union with the control plane
// winning a prefix both claim, and a failed write leaves the previous union in force. The eBPF
// datapath here has no endpoints (nothing is attached); the map is the real pinned LPM trie.
// Needs root, BTF and bpffs.

import { desiredState } from "@meridian/model/testing";
import { needs, part, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DatapathMaps,
  deleteBatch,
  ipcacheInfo,
  ipcacheKey,
  mapEntries,
  PinnedDatapath,
  writeBatch,
} from "../../datapath/index.js";
import type { NodeDesiredState } from "../../sync/channel.js";
import { EbpfDatapath, ebpfUnsupportedReason } from "./ebpf-datapath.js";

const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-ipcache`;
const realParts = needs("the ipcache holds every owner's claims", [
  parts.nativeAddon,
  part("eBPF datapath", () => ebpfUnsupportedReason(pinDir)),
]);

/** FQDN selector identities live above 2^24 + 2^22 (packages/model/src/compiler/identity.ts). */
const FQDN_API = (1 << 24) + (1 << 22) + 11;
const FQDN_CDN = (1 << 24) + (1 << 22) + 12;

function controlPlane(revision: number, ipcache: [string, number][]): NodeDesiredState {
  return desiredState(revision, {
    ipcache: ipcache.map(([prefix, identity]) => ({ prefix, identity, source: "endpoint" as const })),
  });
}

describe.skipIf(realParts.skip)("the ipcache holds every owner's claims", () => {
  let dp: EbpfDatapath;
  let maps: DatapathMaps;
  let revision = 0;
  /** What the kernel's ipcache holds, sorted. */
  const kernel = () =>
    maps
      .listIpcache()
      .map((e) => `${e.cidr}=${e.identity}`)
      .sort();

  beforeAll(() => {
    dp = EbpfDatapath.open({ pinDir });
    maps = DatapathMaps.openPinned(pinDir);
  });

  afterAll(async () => {
    maps?.close();
    await dp?.close().catch(() => undefined);
    PinnedDatapath.destroy(pinDir);
  });

  it("a DNS-learned address survives the control plane's next desired states", async () => {
    await dp.applyDesiredState(controlPlane(++revision, [["10.244.1.5/32", 300]]));
    await dp.claimIpcache("dns-proxy", [{ prefix: "203.0.113.7", identity: FQDN_API }]);
    expect(kernel()).toEqual(["10.244.1.5/32=300", `203.0.113.7/32=${FQDN_API}`]);

    await dp.applyDesiredState(
      controlPlane(++revision, [
        ["10.244.1.5/32", 300],
        ["10.244.2.9/32", 301],
      ]),
    );
    expect(kernel()).toEqual(["10.244.1.5/32=300", "10.244.2.9/32=301", `203.0.113.7/32=${FQDN_API}`]);
    // The control plane's sync wrote only its own new entry.
    expect(dp.lastApply?.ipcache).toEqual({ written: 1, removed: 0 });

    await dp.applyDesiredState(controlPlane(++revision, []));
    expect(kernel()).toEqual([`203.0.113.7/32=${FQDN_API}`]);
  });

  it("an entry stays while any owner claims it, and goes with the last one", async () => {
    await dp.applyDesiredState(controlPlane(++revision, [["198.51.100.0/24", 16777300]]));
    await dp.claimIpcache("dns-proxy", [
      { prefix: "203.0.113.7/32", identity: FQDN_API },
      { prefix: "198.51.100.0/24", identity: 16777300 },
    ]);
    expect(kernel()).toEqual(["198.51.100.0/24=16777300", `203.0.113.7/32=${FQDN_API}`]);

    // The DNS proxy lets go of both: the control plane still holds one of them.
    expect(await dp.claimIpcache("dns-proxy", [])).toEqual({ written: 0, removed: 1 });
    expect(kernel()).toEqual(["198.51.100.0/24=16777300"]);

    await dp.applyDesiredState(controlPlane(++revision, []));
    expect(kernel()).toEqual([]);
  });

  it("on one prefix the control plane's identity wins over a DNS-learned one, which returns when the control plane lets go", async () => {
    await dp.claimIpcache("dns-proxy", [
      { prefix: "10.244.3.4", identity: FQDN_API },
      // Inside a prefix the control plane claims: a different prefix, so no conflict (LPM decides).
      { prefix: "192.0.2.10/32", identity: FQDN_CDN },
    ]);
    await dp.applyDesiredState(
      controlPlane(++revision, [
        ["10.244.3.4/32", 310],
        ["192.0.2.0/24", 16777301],
      ]),
    );
    expect(kernel()).toEqual(["10.244.3.4/32=310", "192.0.2.0/24=16777301", `192.0.2.10/32=${FQDN_CDN}`]);

    // The pod is gone: the address is again what the DNS proxy learned it to be.
    await dp.applyDesiredState(controlPlane(++revision, [["192.0.2.0/24", 16777301]]));
    expect(kernel()).toEqual([
      `10.244.3.4/32=${FQDN_API}`,
      "192.0.2.0/24=16777301",
      `192.0.2.10/32=${FQDN_CDN}`,
    ]);

    await dp.claimIpcache("dns-proxy", []);
    await dp.applyDesiredState(controlPlane(++revision, []));
    expect(kernel()).toEqual([]);
  });

  it("a DNS proxy claim among 10,000 entries writes only the new address: no read of the ipcache or conntrack on the way", async () => {
    const many: [string, number][] = Array.from({ length: 10_000 }, (_, i) => [
      `10.250.${i >> 8}.${i & 255}/32`,
      300 + (i % 50),
    ]);
    await dp.applyDesiredState(controlPlane(++revision, many));
    await dp.claimIpcache("dns-proxy", [{ prefix: "203.0.113.20", identity: FQDN_API }]);
    await dp.settled();
    const before = kernel();
    expect(before).toHaveLength(10_001);

    // Every call on the datapath's own ipcache and conntrack handles, by method name.
    const calls: string[] = [];
    const handles = (dp as unknown as { dp: { maps: DatapathMaps } }).dp.maps.maps;
    const real = { ipcache: handles.mdp_ipcache, ct: handles.mdp_ct };
    const counted = (name: string, map: object) =>
      new Proxy(map, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            calls.push(`${name}.${String(prop)}`);
            return v.apply(target, args);
          };
        },
      });
    handles.mdp_ipcache = counted("ipcache", real.ipcache) as typeof real.ipcache;
    handles.mdp_ct = counted("ct", real.ct) as typeof real.ct;
    try {
      // The cache hands over all its claims each time: the one already in force and one new one.
      const diff = await dp.claimIpcache("dns-proxy", [
        { prefix: "203.0.113.20", identity: FQDN_API },
        { prefix: "203.0.113.21", identity: FQDN_CDN },
      ]);
      expect(diff).toEqual({ written: 1, removed: 0 });
      expect(calls).toEqual(["ipcache.update"]);
      // Established flows are re-judged after the claim resolved, not before.
      await dp.settled();
      expect(calls.filter((c) => c.startsWith("ct."))).toContain("ct.dump");

      // A claim that changes nothing in force writes nothing (the control plane wins this prefix).
      calls.length = 0;
      expect(
        await dp.claimIpcache("dns-proxy", [
          { prefix: "203.0.113.20", identity: FQDN_API },
          { prefix: "203.0.113.21", identity: FQDN_CDN },
          { prefix: "10.250.0.7/32", identity: FQDN_API },
        ]),
      ).toEqual({ written: 0, removed: 0 });
      expect(calls).toEqual([]);
    } finally {
      handles.mdp_ipcache = real.ipcache;
      handles.mdp_ct = real.ct;
    }
    expect(kernel()).toEqual([...before, `203.0.113.21/32=${FQDN_CDN}`].sort());

    // Letting go of the control plane's prefix: the DNS proxy's identity comes into force there.
    await dp.applyDesiredState(controlPlane(++revision, many.slice(0, 7).concat(many.slice(8))));
    expect(kernel()).toContain(`10.250.0.7/32=${FQDN_API}`);
    await dp.claimIpcache("dns-proxy", []);
    await dp.applyDesiredState(controlPlane(++revision, []));
    expect(kernel()).toEqual([]);
  });

  it("a write that fails midway (the ipcache full) leaves the previous union in force, in the kernel and for the next sync", async () => {
    await dp.applyDesiredState(controlPlane(++revision, [["10.244.1.5/32", 300]]));
    await dp.claimIpcache("dns-proxy", [{ prefix: "203.0.113.7", identity: FQDN_API }]);
    const union = kernel();

    // Fill the map to one short of capacity with entries nobody claims: of the DNS proxy's two new
    // entries the first is written, the second cannot be.
    const m = maps.maps.mdp_ipcache;
    const room = m.info().maxEntries - mapEntries(m).length - 1;
    const filler: Buffer[] = [];
    for (let i = 0; i < room; i++) {
      const addr = Buffer.alloc(16);
      addr.writeUInt32BE(0xfd00ffff, 0);
      addr.writeUInt32BE(i, 12);
      filler.push(ipcacheKey.encode({ prefixlen: 32 + 128, family: 6, addr }));
    }
    const value = ipcacheInfo.encode({ identity: 2, flags: 0 });
    writeBatch(
      m,
      filler,
      filler.map(() => value),
    );
    const full = m.info().maxEntries - 1;
    const err = await dp
      .claimIpcache("dns-proxy", [
        { prefix: "203.0.113.8", identity: FQDN_API },
        { prefix: "203.0.113.9", identity: FQDN_API },
      ])
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(
      /^ipcache entry 203\.0\.113\.9\/32: .*; the maps were restored to the last good state$/,
    );
    // The first of the two was written before the second failed: it is gone again.
    const first = ipcacheKey.encode({
      prefixlen: 32 + 32,
      family: 4,
      addr: Buffer.concat([Buffer.from([203, 0, 113, 8]), Buffer.alloc(12)]),
    });
    expect(m.lookup(first)).toBeNull();
    expect(mapEntries(m)).toHaveLength(full);

    deleteBatch(m, filler);
    expect(kernel()).toEqual(union);
    // The refused claims were never taken: the next sync holds the DNS proxy's previous ones.
    await dp.applyDesiredState(controlPlane(++revision, [["10.244.2.9/32", 301]]));
    expect(kernel()).toEqual(["10.244.2.9/32=301", `203.0.113.7/32=${FQDN_API}`]);
  });
});
