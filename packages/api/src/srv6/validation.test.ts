// SRv6 input refused on write, on real PostgreSQL, with the field and the reason: static SIDs outside
// their locator, function lengths that cannot hold the VRFs or do not fit the SID, pools shrunk
// below what they have handed out.

import { compileNodeState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { allocateIdentity, identityLabels } from "../endpoints/identities";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

// fc00:0:100::/40 carved into /48 locators: node slot s is fc00:0:1ss::/48, functions 16 bits.
const structure = { locatorBlockLength: 40, locatorNodeLength: 8, functionLength: 16, argumentLength: 0 };
const pool = { prefix: "fc00:0:100::/40", locatorLength: 48, structure };
const members = { matchLabels: { vpn: "red" } };

describe("SRv6 validation", () => {
  it("sets up two nodes holding locators 0 and 1 and VRF red", async () => {
    const admin = await h.as("admin");
    const op = await h.as("operator");
    await admin.nodes.create({ name: "n0" });
    await admin.nodes.create({ name: "n1" });
    await op.srv6.locatorPools.create({ name: "core", spec: pool });
    await op.srv6.vrfs.create({
      name: "red",
      spec: { vrfID: 10, locatorPool: "core", memberSelector: members },
    });
    const snapshot = await loadSnapshot(h.db);
    expect(snapshot.srv6Allocations.locators.map((l) => `${l.node} ${l.slot}`).sort()).toEqual([
      "n0 0",
      "n1 1",
    ]);
  });

  it("refuses a static SID outside the pool, outside its node's locator, or another VRF's SID", async () => {
    const op = await h.as("operator");
    const vrf = (staticSids: { node: string; sid: string }[]) => ({
      vrfID: 11,
      locatorPool: "core",
      memberSelector: { matchLabels: { vpn: "blue" } },
      staticSids,
    });
    const err = await errorOf(() =>
      op.srv6.vrfs.create({
        name: "blue",
        spec: vrf([
          { node: "n0", sid: "fc00:9::b" },
          { node: "n1", sid: "fc00:0:100:b::" },
          { node: "n0x", sid: "fc00:0:100:b::1" },
        ]),
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.staticSids.0.sid": [
        "SID fc00:9::b is outside the pool prefix fc00:0:100::/40 (locator pool core)",
      ],
      "spec.staticSids.1.sid": [
        "SID fc00:0:100:b:: is outside node n1's locator fc00:0:101::/48 of pool core",
      ],
      "spec.staticSids.2.sid": [
        "SID fc00:0:100:b::1 has bits set past its function and argument fields (locator pool core)",
      ],
    });
    const taken = await errorOf(() =>
      op.srv6.vrfs.create({ name: "blue", spec: vrf([{ node: "n1", sid: "fc00:0:101:a::" }]) }),
    );
    expect(taken.fieldErrors).toEqual({
      "spec.staticSids.0.sid": ["SID fc00:0:101:a:: is already the SID of VRF red on node n1"],
    });
  });

  it("serves a VRF on its static SID where it lies in the node's locator", async () => {
    const op = await h.as("operator");
    await op.srv6.vrfs.create({
      name: "blue",
      spec: {
        vrfID: 11,
        locatorPool: "core",
        memberSelector: { matchLabels: { vpn: "blue" } },
        staticSids: [{ node: "n1", sid: "fc00:0:101:beef::" }],
      },
    });
    const n1 = await h.db.node.findUniqueOrThrow({ where: { name: "n1" } });
    const labels = { vpn: "blue" };
    const identityNumber = await h.db.$transaction((tx) =>
      allocateIdentity(tx, identityLabels("shop", labels)),
    );
    await h.db.endpoint.create({
      data: { nodeId: n1.id, namespace: "shop", name: "b1", labels, ipv4: "10.61.1.1", identityNumber },
    });
    await h.db.endpoint.create({
      data: {
        nodeId: (await h.db.node.findUniqueOrThrow({ where: { name: "n0" } })).id,
        namespace: "shop",
        name: "b0",
        labels,
        ipv4: "10.61.0.1",
        identityNumber,
      },
    });
    const snapshot = await loadSnapshot(h.db);
    expect(compileNodeState(snapshot, "n1").srv6.vrfs.map((v) => `${v.name} ${v.sid}`)).toEqual([
      "blue fc00:0:101:beef::",
    ]);
    // n0 has no static SID for blue: it gets an allocated one (the VRF ID, 11 = 0xb).
    expect(compileNodeState(snapshot, "n0").srv6.vrfs.map((v) => `${v.name} ${v.sid}`)).toEqual([
      "blue fc00:0:100:b::",
    ]);
  });

  it("refuses a pool update that strands a held locator or SID, or leaves too few SIDs for its VRFs", async () => {
    const op = await h.as("operator");
    const core = await h.db.srv6LocatorPool.findUniqueOrThrow({ where: { name: "core" } });
    const update = (spec: typeof pool) =>
      op.srv6.locatorPools.update({ id: core.id, version: core.version, spec });
    await (await h.as("admin")).nodes.create({ name: "n2" });
    await loadSnapshot(h.db); // n2 takes locator number 2
    // A /47 holds two /48 locators (0 and 1 stay where they are), but n2 holds number 2.
    const stranded = await errorOf(() =>
      update({
        ...pool,
        prefix: "fc00:0:100::/47",
        structure: { ...structure, locatorBlockLength: 47, locatorNodeLength: 1 },
      }),
    );
    expect(stranded.fieldErrors).toEqual({
      "spec.locatorLength": [
        "node n2 holds locator number 2 of this pool; /48 locators under fc00:0:100::/47 are only 2",
      ],
    });
    const fn = await errorOf(() => update({ ...pool, structure: { ...structure, functionLength: 1 } }));
    expect(fn.fieldErrors).toEqual({
      "spec.structure.functionLength": [
        "VRF blue holds SID function 48879 on node n1; functionLength 1 holds functions up to 1",
      ],
    });
  });

  it("refuses a VRF when its pool's function length has no SID left for it", async () => {
    const op = await h.as("operator");
    await op.srv6.locatorPools.create({
      name: "tiny",
      spec: { prefix: "fc00:0:200::/40", locatorLength: 48, structure: { ...structure, functionLength: 1 } },
    });
    await op.srv6.vrfs.create({
      name: "green",
      spec: { vrfID: 20, locatorPool: "tiny", memberSelector: members },
    });
    const err = await errorOf(() =>
      op.srv6.vrfs.create({
        name: "yellow",
        spec: { vrfID: 21, locatorPool: "tiny", memberSelector: members },
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.locatorPool": [
        "locator pool tiny gives each node 1 SIDs (structure.functionLength 1) and 1 other VRFs hold them all",
      ],
    });
  });

  it("refuses a function length that does not fit after the locator, naming the field", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.srv6.locatorPools.create({
        name: "wide",
        spec: {
          prefix: "fc00:0:300::/40",
          locatorLength: 48,
          structure: { ...structure, functionLength: 96 },
        },
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.structure.functionLength": [
        "functionLength 96 does not fit after the /48 locator: block + node + function + argument = 144 bits, more than the 128 bits of an IPv6 SID",
      ],
    });
  });
});
