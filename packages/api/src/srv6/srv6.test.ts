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
});
