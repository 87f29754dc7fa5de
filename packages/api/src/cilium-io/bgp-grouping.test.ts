// The three BGP v2 resources imported one file at a time, as users keep them, on PostgreSQL through
// the API: whatever the order, the node's compiled BGP section ends up as when they are imported
// together; where a document cannot bind yet, the import says so.

import { compileNodeState } from "@meridian/model";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { BGP_V2 } from "../cilium/examples.test-helpers";
import { createHarness, errorOf, type Harness } from "../test/harness";

const [CLUSTER, PEER_CONFIG, ADVERTISEMENT] = BGP_V2.split(/^---$/m).map((d) => d.trim());
const PARTS = { C: CLUSTER!, P: PEER_CONFIG!, A: ADVERTISEMENT! };
type Part = keyof typeof PARTS;

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await (await h.as("admin")).nodes.create({
    name: "node1",
    labels: { rack: "rack0" },
    addresses: ["10.168.60.11/24"],
    podCIDRs: ["10.244.1.0/24"],
  });
});
afterAll(() => h.close());
beforeEach(async () => {
  await h.db.bgpAdvertisement.deleteMany({});
  await h.db.bgpPeer.deleteMany({});
  await h.db.bgpInstance.deleteMany({});
});

async function bgpSection() {
  return compileNodeState(await loadSnapshot(h.db), "node1").bgp;
}

async function importParts(parts: Part[][]) {
  const op = await h.as("operator");
  const results = [];
  for (const group of parts) {
    const yaml = group.map((p) => PARTS[p]).join("\n---\n");
    // A cluster config alone gives its peers default settings until its peer config comes: acknowledged.
    results.push(await op.cilium.import({ yaml, acknowledgeDifferences: true }));
  }
  return results;
}

describe("BGP v2 resources imported in any grouping", () => {
  let together: Awaited<ReturnType<typeof bgpSection>>;
  beforeAll(async () => {
    await h.db.bgpAdvertisement.deleteMany({});
    await h.db.bgpPeer.deleteMany({});
    await h.db.bgpInstance.deleteMany({});
    await importParts([["C", "P", "A"]]);
    together = await bgpSection();
    const peer = together.instances[0]!.peers[0]!;
    // What must survive: the peer config's timers, graceful restart and families, and the advertisements.
    expect(peer).toMatchObject({ holdTimeSeconds: 9, ebgpMultihop: 4 });
    expect(JSON.stringify(together.instances[0]!.peers[0]!.routes)).toContain("10.244.1.0/24");
    expect(JSON.stringify(together)).toContain("65000:99");
  });

  it.each(
    (
      [
        [["C"], ["P"], ["A"]],
        [["C"], ["A"], ["P"]],
        [["A"], ["C"], ["P"]],
        [["C", "A"], ["P"]],
        [["C", "P"], ["A"]],
        [["A"], ["C"], ["A", "P"]],
      ] as Part[][][]
    ).map((groups) => [groups.map((g) => g.join("+")).join(", then "), groups] as const),
  )("%s compiles to the same BGP section as one import", async (_title, groups) => {
    const results = await importParts(groups);
    expect(await bgpSection()).toEqual(together);
    // The last import wrote something: the binding is in its outcome list, never silent.
    expect(results.at(-1)!.objects.some((o) => o.action === "created" || o.action === "updated")).toBe(true);
  });

  it("a peer config imported after its cluster config updates the stored peer, and the dry run lists it", async () => {
    await importParts([["C"]]);
    const op = await h.as("operator");
    const dry = await op.cilium.import({ yaml: PARTS.P, dryRun: true });
    expect(dry.objects).toEqual([
      expect.objectContaining({ kind: "BgpPeer", name: "peer-65000-tor1", action: "would-apply" }),
    ]);
    expect(dry.skipped).toEqual([]);
    const res = await op.cilium.import({ yaml: PARTS.P });
    expect(res.objects).toEqual([
      expect.objectContaining({ kind: "BgpPeer", name: "peer-65000-tor1", action: "updated" }),
    ]);
    const peer = await h.db.bgpPeer.findFirstOrThrow({ where: { name: "peer-65000-tor1" } });
    expect(peer.spec).toMatchObject({
      holdTimeSeconds: 9,
      keepaliveSeconds: 3,
      ciliumPeerConfig: "cilium-peer",
    });
  });

  it("a cluster config alone is refused by default, saying which peer config is missing", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() => op.cilium.import({ yaml: PARTS.C }));
    expect(err.message).toContain('CiliumBGPPeerConfig "cilium-peer" is not in this import');
  });

  it("a peer config before any cluster config refers to it is skipped, and says it is not kept", async () => {
    const op = await h.as("operator");
    const res = await op.cilium.import({ yaml: PARTS.P, dryRun: true });
    expect(res.objects).toEqual([]);
    expect(res.skipped).toEqual([
      expect.objectContaining({
        kind: "CiliumBGPPeerConfig",
        name: "cilium-peer",
        reason: expect.stringContaining("so it is not kept: import it with or after the cluster config"),
      }),
    ]);
  });

  it("re-importing one file of three changes nothing: the peer keeps its timers, the advertisement its peers", async () => {
    await importParts([["C", "P", "A"]]);
    const op = await h.as("operator");
    for (const part of ["C", "A", "P"] as Part[]) {
      // No acknowledgement needed: the cluster config's peer config is stored on its peers.
      const res = await op.cilium.import({ yaml: PARTS[part] });
      expect(res.objects.filter((o) => o.action !== "unchanged")).toEqual([]);
    }
    expect(await bgpSection()).toEqual(together);
  });

  it("an advertisement a stored peer config no longer selects is unbound, with the peer config's import", async () => {
    await importParts([["C", "P", "A"]]);
    const op = await h.as("operator");
    const narrower = PARTS.P.replaceAll('advertise: "bgp"', 'advertise: "other"');
    const res = await op.cilium.import({ yaml: narrower });
    expect(res.objects.map((o) => `${o.kind}/${o.name} ${o.action}`).sort()).toEqual([
      "BgpAdvertisement/bgp-advertisements-0 updated",
      "BgpAdvertisement/bgp-advertisements-1 updated",
      "BgpPeer/peer-65000-tor1 updated",
    ]);
    const ad = await h.db.bgpAdvertisement.findFirstOrThrow({ where: { name: "bgp-advertisements-0" } });
    expect((ad.spec as { peers: string[] }).peers).toEqual([]);
  });
});
