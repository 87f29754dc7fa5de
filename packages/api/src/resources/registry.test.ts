// One registry of resource kinds (resources/define.ts) decides the order restores and imports
// write in, and which kinds Cilium YAML carries: no list of kinds elsewhere can fall out of step.
import { describe, expect, it } from "vitest";
import "../root";
import { EXPORTABLE_KINDS } from "../cilium-io/service";
import { resourceOrder, resourceRegistry } from "./define";

describe("resource registry", () => {
  it("orders every kind after the kinds it depends on", () => {
    const order = resourceOrder();
    expect([...order].sort()).toEqual([...resourceRegistry.keys()].sort());
    for (const [kind, def] of resourceRegistry) {
      for (const dep of def.dependsOn ?? []) {
        expect(order.indexOf(dep), `${dep} before ${kind}`).toBeLessThan(order.indexOf(kind));
      }
    }
    // The dependencies that matter today: pools before VRFs before SRv6 policies; instances before
    // peers before advertisements; VRFs before the advertisements of their routes.
    for (const [a, b] of [
      ["Srv6LocatorPool", "Srv6Vrf"],
      ["Srv6Vrf", "Srv6Policy"],
      ["BgpInstance", "BgpPeer"],
      ["BgpPeer", "BgpAdvertisement"],
      ["Srv6Vrf", "BgpAdvertisement"],
    ] as const)
      expect(order.indexOf(a), `${a} before ${b}`).toBeLessThan(order.indexOf(b));
  });

  it("the kinds Cilium YAML carries are the registry's", () => {
    const cilium = [...resourceRegistry].filter(([, d]) => d.cilium).map(([k]) => k);
    expect([...EXPORTABLE_KINDS].sort()).toEqual(cilium.sort());
  });
});
