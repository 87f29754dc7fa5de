import { describe, expect, it } from "vitest";
import { cluster } from "./fixtures.test-helpers";
import { compileNodeState } from "./index";

describe("peers in the node's desired state", () => {
  it("lists every other node with its bare addresses and PodCIDRs, by name", () => {
    expect(compileNodeState(cluster(), "n2").peers).toEqual([
      { name: "n1", addresses: ["192.168.0.11"], podCIDRs: ["10.1.1.0/24", "fd00:1:1::/64"] },
      { name: "n3", addresses: ["192.168.0.13"], podCIDRs: ["10.1.3.0/24"] },
    ]);
  });

  it("leaves out nodes without PodCIDRs, and a peer's new PodCIDR changes the content hash", () => {
    const base = cluster();
    const withNew = cluster({
      nodes: [...base.nodes, { name: "n4", labels: {}, addresses: ["192.168.0.14/24"], podCIDRs: [] }],
    });
    expect(compileNodeState(withNew, "n1").peers.map((p) => p.name)).toEqual(["n2", "n3"]);
    const routed = cluster({
      nodes: [
        ...base.nodes,
        { name: "n4", labels: {}, addresses: ["192.168.0.14/24"], podCIDRs: ["10.1.4.0/24"] },
      ],
    });
    expect(compileNodeState(routed, "n1").contentHash).not.toBe(compileNodeState(withNew, "n1").contentHash);
  });
});
