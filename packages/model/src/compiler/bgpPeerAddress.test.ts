// Two BGP instances on one node share the agent's listener, which tells sessions apart by peer
// address. When labels or selectors change so that two instances with the same peer address meet
// on a node, that node's state keeps the first (by instance name) and names the other as a problem.
import { describe, expect, it } from "vitest";
import { bgpAdvertisement, bgpInstance, bgpPeer, cluster } from "../../testing/cluster";
import { compileNodeState } from "./index";

const snapshot = cluster({
  bgpInstances: [
    bgpInstance("fabric", { nodeSelector: { matchLabels: { rack: "a" } }, localASN: 65001 }),
    bgpInstance("upstream", { nodeSelector: {}, localASN: 65100 }),
  ],
  bgpPeers: [
    bgpPeer("tor-a", { instance: "fabric", address: "192.168.0.1", peerASN: 65010 }),
    bgpPeer("rs-1", { instance: "upstream", address: "192.168.0.254", peerASN: 65200 }),
    // Legal while rack b had no "fabric": now n1 (rack a) runs both instances.
    bgpPeer("tor-b", { instance: "upstream", address: "192.168.0.1", peerASN: 65010 }),
  ],
  bgpAdvertisements: [bgpAdvertisement("pods", { type: "PodCIDR" })],
});

describe("BGP peer addresses per node", () => {
  it("runs two instances on a node, each with its own peers and routes", () => {
    const state = compileNodeState(snapshot, "n1");
    expect(state.bgp.instances.map((i) => [i.name, i.localASN, i.peers.map((p) => p.name)])).toEqual([
      ["fabric", 65001, ["tor-a"]],
      ["upstream", 65100, ["rs-1"]],
    ]);
    expect(state.bgp.instances[1]!.peers[0]!.routes.map((r) => r.prefix)).toEqual([
      "10.1.1.0/24",
      "fd00:1:1::/64",
    ]);
  });

  it("leaves out the later instance's peer with the same address, naming the field", () => {
    const state = compileNodeState(snapshot, "n1");
    expect(state.problems).toEqual([
      {
        area: "bgp",
        object: "tor-b",
        message: expect.stringMatching(
          /^spec\.address: 192\.168\.0\.1 is already the address of BGP peer tor-a of instance fabric on node n1: .*; peer tor-b is left out on this node$/,
        ),
      },
    ]);
    // Where "fabric" does not run, the peer is fine.
    const n3 = compileNodeState(snapshot, "n3");
    expect(n3.problems).toEqual([]);
    expect(n3.bgp.instances.map((i) => [i.name, i.peers.map((p) => p.name)])).toEqual([
      ["upstream", ["rs-1", "tor-b"]],
    ]);
  });
});
