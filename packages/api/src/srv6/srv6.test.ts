import { SRV6_MAX_SEGMENTS } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const structure = { locatorBlockLength: 48, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 };

describe("SRv6", () => {
  it("refuses a locator pool that overlaps another, naming it", async () => {
    const op = await h.as("operator");
    await op.srv6.locatorPools.create({
      name: "pool-a",
      spec: { prefix: "fd00:5::/48", locatorLength: 64, structure },
    });
    const err = await errorOf(() =>
      op.srv6.locatorPools.create({
        name: "pool-b",
        spec: { prefix: "fd00:5:0:8000::/52", locatorLength: 64, structure },
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.prefix": ["locator prefix fd00:5:0:8000::/52 overlaps fd00:5::/48 of locator pool pool-a"],
    });
  });

  it("VRF IDs are unique; route distinguishers and targets are validated", async () => {
    const op = await h.as("operator");
    const vrf = {
      locatorPool: "pool-a",
      memberSelector: { matchLabels: { vpn: "blue" } },
      routeDistinguisher: "64512:1",
      importRouteTargets: ["64512:1"],
    };
    await op.srv6.vrfs.create({ name: "blue", spec: { ...vrf, vrfID: 10 } });
    const dup = await errorOf(() => op.srv6.vrfs.create({ name: "red", spec: { ...vrf, vrfID: 10 } }));
    expect(dup.fieldErrors).toEqual({ "spec.vrfID": ["VRF ID 10 is already used by VRF blue"] });
    const badRd = await errorOf(() =>
      op.srv6.vrfs.create({ name: "green", spec: { ...vrf, vrfID: 11, routeDistinguisher: "nonsense" } }),
    );
    expect(Object.keys(badRd.fieldErrors ?? {})).toEqual(["spec.routeDistinguisher"]);
  });

  it("static policies steer a prefix in an existing VRF to a SID list", async () => {
    const op = await h.as("operator");
    const p = await op.srv6.policies.create({
      name: "to-site-b",
      spec: { vrf: "blue", destination: "10.50.0.0/16", segments: ["fd00:9::1"] },
    });
    expect(p.spec.segments).toEqual(["fd00:9::1"]);
    const err = await errorOf(() =>
      op.srv6.policies.create({
        name: "x",
        spec: { vrf: "nope", destination: "10.50.0.0/16", segments: ["fd00:9::1"] },
      }),
    );
    expect(err.fieldErrors).toEqual({ "spec.vrf": ["no SRv6 VRF named nope"] });
  });

  it("refuses an overlap on update too, and a pool inside another", async () => {
    const op = await h.as("operator");
    const c = await op.srv6.locatorPools.create({
      name: "pool-c",
      spec: { prefix: "fd00:6::/48", locatorLength: 64, structure },
    });
    const inside = await errorOf(() =>
      op.srv6.locatorPools.create({
        name: "pool-d",
        spec: {
          prefix: "fd00::/16",
          locatorLength: 64,
          structure: { ...structure, locatorBlockLength: 16, locatorNodeLength: 48 },
        },
      }),
    );
    expect(inside.fieldErrors?.["spec.prefix"]?.[0]).toMatch(
      /^locator prefix fd00::\/16 overlaps fd00:[56]::\/48/,
    );
    const moved = await errorOf(() =>
      op.srv6.locatorPools.update({
        id: c.id,
        version: c.version,
        spec: {
          prefix: "fd00:5:0:1::/64",
          locatorLength: 80,
          structure: { ...structure, locatorNodeLength: 32 },
        },
      }),
    );
    expect(moved.fieldErrors).toEqual({
      "spec.prefix": ["locator prefix fd00:5:0:1::/64 overlaps fd00:5::/48 of locator pool pool-a"],
    });
  });

  it("checks route distinguisher and route target syntax, naming the field and index", async () => {
    const op = await h.as("operator");
    const vrf = { locatorPool: "pool-a", memberSelector: { matchLabels: { vpn: "rt" } } };
    const ok = await op.srv6.vrfs.create({
      name: "rt-ok",
      spec: {
        ...vrf,
        vrfID: 20,
        routeDistinguisher: "192.0.2.1:7",
        importRouteTargets: ["4200000000:100", "64512:4294967295"],
        exportRouteTargets: ["192.0.2.1:65535"],
      },
    });
    expect(ok.spec.importRouteTargets).toEqual(["4200000000:100", "64512:4294967295"]);
    const bad = await errorOf(() =>
      op.srv6.vrfs.create({
        name: "rt-bad",
        spec: {
          ...vrf,
          vrfID: 21,
          routeDistinguisher: "192.0.2.1:70000",
          importRouteTargets: ["64512:1", "4200000000:70000"],
          exportRouteTargets: ["2001:db8::1:5"],
        },
      }),
    );
    expect(bad.fieldErrors).toEqual({
      "spec.routeDistinguisher": [
        'route distinguisher "192.0.2.1:70000": with an IPv4 address the number must be 0..65535',
      ],
      "spec.importRouteTargets.1": [
        'route target "4200000000:70000": with a 4-byte ASN (> 65535) the number must be 0..65535',
      ],
      "spec.exportRouteTargets.0": [
        'route target "2001:db8::1:5": "2001:db8::1" is not an ASN (0..4294967295); expected ASN:NN (e.g. 65000:100) or IPv4:NN (e.g. 192.0.2.1:100)',
      ],
    });
  });

  it("refuses a VRF ID reused by an update", async () => {
    const op = await h.as("operator");
    const vrf = { locatorPool: "pool-a", memberSelector: { matchLabels: { vpn: "x" } } };
    const x = await op.srv6.vrfs.create({ name: "x-vrf", spec: { ...vrf, vrfID: 30 } });
    const err = await errorOf(() =>
      op.srv6.vrfs.update({ id: x.id, version: x.version, spec: { ...vrf, vrfID: 10 } }),
    );
    expect(err.fieldErrors).toEqual({ "spec.vrfID": ["VRF ID 10 is already used by VRF blue"] });
    // Keeping its own ID is no clash with itself.
    const same = await op.srv6.vrfs.update({ id: x.id, version: x.version, spec: { ...vrf, vrfID: 30 } });
    expect(same.spec.vrfID).toBe(30);
  });

  it(`refuses a segment list longer than SRV6_MAX_SEGMENTS (${SRV6_MAX_SEGMENTS})`, async () => {
    expect(SRV6_MAX_SEGMENTS).toBe(4);
    const op = await h.as("operator");
    const sids = (n: number) => Array.from({ length: n }, (_, i) => `fd00:9::${i + 1}`);
    const max = await op.srv6.policies.create({
      name: "four-sids",
      spec: { vrf: "blue", destination: "10.51.0.0/16", segments: sids(SRV6_MAX_SEGMENTS) },
    });
    expect(max.spec.segments).toHaveLength(SRV6_MAX_SEGMENTS);
    const err = await errorOf(() =>
      op.srv6.policies.create({
        name: "five-sids",
        spec: { vrf: "blue", destination: "10.52.0.0/16", segments: sids(SRV6_MAX_SEGMENTS + 1) },
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.segments": ["at most 4 SIDs in a segment list (the datapath limit)"],
    });
  });
});
