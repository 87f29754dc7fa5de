// Stable SRv6 locators and SIDs on real PostgreSQL: what an agent receives for one node does not
// move when other nodes come and go, and a full pool is a problem of the node left out.

import { compileNodeState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { allocateIdentity, identityLabels } from "../endpoints/identities";
import { createHarness, type Harness } from "../test/harness";
import { ensureSrv6Allocations } from "./allocations";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const structure = { locatorBlockLength: 40, locatorNodeLength: 8, functionLength: 16, argumentLength: 0 };

/** A pod on the node in VRF `vpn`, as an agent would have reported it. */
async function pod(node: string, name: string, vpn: string, ipv4: string) {
  const n = await h.db.node.findUniqueOrThrow({ where: { name: node } });
  const labels = { vpn };
  const identityNumber = await h.db.$transaction((tx) =>
    allocateIdentity(tx, identityLabels("shop", labels)),
  );
  await h.db.endpoint.create({
    data: { nodeId: n.id, namespace: "shop", name, labels, ipv4, identityNumber },
  });
}

/** What each node's desired state says: its locators and its VRFs' SIDs. */
async function compiled(nodes: string[]) {
  const snapshot = await loadSnapshot(h.db);
  return Object.fromEntries(
    nodes.map((n) => {
      const s = compileNodeState(snapshot, n);
      return [
        n,
        {
          locators: s.srv6.locators.map((l) => `${l.pool} ${l.locator}`),
          sids: s.srv6.vrfs.map((v) => `${v.name} ${v.sid}`),
          problems: s.problems.filter((p) => p.area === "srv6").map((p) => p.message),
        },
      ];
    }),
  );
}

describe("SRv6 locator and SID allocation", () => {
  it("adding a node that sorts first, and removing one, leave the other nodes' SIDs as they were", async () => {
    const admin = await h.as("admin");
    const op = await h.as("operator");
    await admin.nodes.create({ name: "m-node", labels: { srv6: "yes" } });
    await admin.nodes.create({ name: "z-node", labels: { srv6: "yes" } });
    await op.srv6.locatorPools.create({
      name: "core",
      spec: {
        prefix: "fc00:0:100::/40",
        locatorLength: 48,
        structure,
        nodeSelector: { matchLabels: { srv6: "yes" } },
      },
    });
    await op.srv6.vrfs.create({
      name: "red",
      spec: { vrfID: 10, locatorPool: "core", memberSelector: { matchLabels: { vpn: "red" } } },
    });
    await op.srv6.vrfs.create({
      name: "blue",
      spec: { vrfID: 11, locatorPool: "core", memberSelector: { matchLabels: { vpn: "blue" } } },
    });
    await pod("m-node", "red-m", "red", "10.60.1.1");
    await pod("z-node", "red-z", "red", "10.60.2.1");
    await pod("z-node", "blue-z", "blue", "10.60.2.2");

    const before = await compiled(["m-node", "z-node"]);
    expect(before).toEqual({
      "m-node": { locators: ["core fc00:0:100::/48"], sids: ["red fc00:0:100:a::"], problems: [] },
      "z-node": {
        locators: ["core fc00:0:101::/48"],
        sids: ["red fc00:0:101:a::", "blue fc00:0:101:b::"],
        problems: [],
      },
    });

    // By name "a-node" comes first: an index-based carve would have renumbered both others.
    await admin.nodes.create({ name: "a-node", labels: { srv6: "yes" } });
    await pod("a-node", "red-a", "red", "10.60.0.1");
    const added = await compiled(["a-node", "m-node", "z-node"]);
    expect(added["m-node"]).toEqual(before["m-node"]);
    expect(added["z-node"]).toEqual(before["z-node"]);
    expect(added["a-node"]).toEqual({
      locators: ["core fc00:0:102::/48"],
      sids: ["red fc00:0:102:a::"],
      problems: [],
    });

    // Removing the middle node frees its locator; the others keep theirs.
    const m = await h.db.node.findUniqueOrThrow({ where: { name: "m-node" } });
    await admin.nodes.delete({ id: m.id, version: m.version });
    const removed = await compiled(["a-node", "z-node"]);
    expect(removed["a-node"]).toEqual(added["a-node"]);
    expect(removed["z-node"]).toEqual(before["z-node"]);
    expect(await h.db.srv6LocatorAllocation.count({ where: { nodeId: m.id } })).toBe(0);
    expect(await h.db.srv6SidAllocation.count({ where: { nodeId: m.id } })).toBe(0);

    // A node joining later takes the lowest free locator — the one m-node held — never a held one.
    await admin.nodes.create({ name: "b-node", labels: { srv6: "yes" } });
    expect((await compiled(["b-node"]))["b-node"]!.locators).toEqual(["core fc00:0:100::/48"]);
    expect(await compiled(["a-node", "z-node"])).toEqual(removed);
  });

  it("a node relabelled out of the pool and back keeps its locator; re-reading allocates nothing", async () => {
    const admin = await h.as("admin");
    const z = await h.db.node.findUniqueOrThrow({ where: { name: "z-node" } });
    const out = await admin.nodes.update({ id: z.id, version: z.version, labels: { srv6: "no" } });
    expect((await compiled(["z-node"]))["z-node"]!.locators).toEqual([]);
    await admin.nodes.update({ id: z.id, version: out.version, labels: { srv6: "yes" } });
    expect((await compiled(["z-node"]))["z-node"]!.sids).toEqual([
      "red fc00:0:101:a::",
      "blue fc00:0:101:b::",
    ]);
    expect(await ensureSrv6Allocations(h.db)).toBe(0);
  });

  it("replicas allocating at once hand out each locator once", async () => {
    const admin = await h.as("admin");
    for (const n of ["c-node", "d-node", "e-node"])
      await admin.nodes.create({ name: n, labels: { srv6: "yes" } });
    const counts = await Promise.all([
      ensureSrv6Allocations(h.db),
      ensureSrv6Allocations(h.db),
      loadSnapshot(h.db),
    ]);
    expect(counts.length).toBe(3);
    const slots = await h.db.srv6LocatorAllocation.findMany({ select: { slot: true } });
    expect(new Set(slots.map((s) => s.slot)).size).toBe(slots.length);
    expect(slots.length).toBe(6); // a, b, c, d, e, z
  });

  it("deleting a VRF releases its SIDs; moving it to another pool gives it a SID there", async () => {
    const op = await h.as("operator");
    const blue = await h.db.srv6Vrf.findUniqueOrThrow({ where: { name: "blue" } });
    await op.srv6.locatorPools.create({
      name: "edge",
      spec: {
        prefix: "fc00:0:200::/40",
        locatorLength: 48,
        structure,
        nodeSelector: { matchLabels: { srv6: "yes" } },
      },
    });
    await op.srv6.vrfs.update({
      id: blue.id,
      version: blue.version,
      spec: { vrfID: 11, locatorPool: "edge", memberSelector: { matchLabels: { vpn: "blue" } } },
    });
    const z = (await compiled(["z-node"]))["z-node"]!;
    expect(z.sids).toEqual(["red fc00:0:101:a::", "blue fc00:0:205:b::"]);
    const moved = await h.db.srv6Vrf.findUniqueOrThrow({ where: { name: "blue" } });
    await op.srv6.vrfs.delete({ id: moved.id, version: moved.version });
    expect(await h.db.srv6SidAllocation.count({ where: { vrfRowId: blue.id } })).toBe(0);
    expect((await compiled(["z-node"]))["z-node"]!.sids).toEqual(["red fc00:0:101:a::"]);
  });

  it("a full pool is a problem of the node left without a locator, naming spec.locatorLength", async () => {
    const admin = await h.as("admin");
    const op = await h.as("operator");
    await op.srv6.locatorPools.create({
      name: "small",
      spec: {
        prefix: "fc00:0:300::/47",
        locatorLength: 48,
        structure: { ...structure, locatorBlockLength: 47, locatorNodeLength: 1 },
        nodeSelector: { matchLabels: { site: "lab" } },
      },
    });
    await admin.nodes.create({ name: "lab-1", labels: { site: "lab" } });
    await admin.nodes.create({ name: "lab-2", labels: { site: "lab" } });
    await loadSnapshot(h.db); // as a subscribed agent's desired-state stream would after each change
    await admin.nodes.create({ name: "lab-0", labels: { site: "lab" } });
    const state = await compiled(["lab-0", "lab-1", "lab-2"]);
    // lab-1 and lab-2 came first and hold the pool's two locators; lab-0 sorts first but is late.
    expect(state["lab-1"]!.locators).toEqual(["small fc00:0:300::/48"]);
    expect(state["lab-2"]!.locators).toEqual(["small fc00:0:301::/48"]);
    expect(state["lab-0"]).toEqual({
      locators: [],
      sids: [],
      problems: [
        "pool small is full: spec.locatorLength gives 2 /48 locators under fc00:0:300::/47 and all are held by other nodes; node lab-0 has no locator",
      ],
    });
  });
});
