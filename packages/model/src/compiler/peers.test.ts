import { describe, expect, it } from "vitest";
import { cluster } from "../../testing/cluster";
import { canonicalJson, sha256Hex } from "./hash";
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

describe("content hash at many nodes", () => {
  // 140 routed nodes: the peer list is serialized in blocks of 64, and each node's hash is taken
  // from those blocks minus its own entry. It must equal the hash of the state the node receives.
  const names = Array.from({ length: 140 }, (_, i) => `n${String(i).padStart(3, "0")}`);
  const many = cluster({
    nodes: [
      ...names.map((name, i) => ({
        name,
        labels: {},
        addresses: [`192.168.${i >> 8}.${i & 255}/24`, `192.168.${i >> 8}.${i & 255}/24`],
        podCIDRs: [`10.${100 + (i >> 8)}.${i & 255}.0/24`],
      })),
      { name: "unrouted", labels: {}, addresses: ["192.168.9.9/24"], podCIDRs: [] },
    ],
  });
  /** The documented hash: sha256 over each section's sha256 of its canonical JSON, keys sorted. */
  function expectedHash(state: ReturnType<typeof compileNodeState>): string {
    const { revision: _r, contentHash: _h, ...body } = state;
    const record = body as Record<string, unknown>;
    return sha256Hex(
      Object.keys(record)
        .sort()
        .map((k) => `${k}:${sha256Hex(canonicalJson(record[k]))}\n`)
        .join(""),
    );
  }

  for (const name of ["n000", "n001", "n063", "n064", "n100", "n127", "n128", "n139", "unrouted"]) {
    it(`${name}: peers are every other routed node, and the hash is that of the state`, () => {
      const state = compileNodeState(many, name);
      expect(state.peers.map((p) => p.name)).toEqual(names.filter((n) => n !== name));
      expect(state.peers[0]?.addresses).toHaveLength(1);
      expect(state.contentHash).toBe(expectedHash(state));
    });
  }
});
