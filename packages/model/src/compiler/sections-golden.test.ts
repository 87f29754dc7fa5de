// The compiled desired state of one fixed cluster, every node, pinned byte for byte: the whole
// state as JSON (key order included), its content hash and each section's hash. Captured before
// the compiler was split into sections (sections/registry.ts), so the split provably changed
// nothing an agent receives. A change to what the compiler emits updates these on purpose.
import { describe, expect, it } from "vitest";
import { sectionFingerprints } from "../agent/events";
import { sha256Hex } from "./hash";
import { compileNodeState } from "./index";
import { goldenCluster } from "./sections-golden.test-helpers";
import type { ClusterSnapshot } from "./snapshot";

/** Per node: sha256 of JSON.stringify(state), the content hash, and each section's hash. */
function pinned(snapshot: ClusterSnapshot) {
  return Object.fromEntries(
    snapshot.nodes.map((n) => {
      const state = compileNodeState(snapshot, n.name);
      return [
        n.name,
        {
          json: sha256Hex(JSON.stringify(state)),
          contentHash: state.contentHash,
          sections: Object.fromEntries(sectionFingerprints(state)),
        },
      ];
    }),
  );
}

describe("the compiled desired state of a fixed cluster", () => {
  it("is exercised in every section (so the pin covers them all)", () => {
    const snapshot = goldenCluster();
    const n1 = compileNodeState(snapshot, "n1");
    const n2 = compileNodeState(snapshot, "n2");
    expect(n1.endpoints.some((e) => e.entries.length > 0 && e.fqdnSelectors.length > 0)).toBe(true);
    expect(n1.bgp.instances[0]!.peers.length).toBeGreaterThan(0);
    expect(n1.srv6.vrfs.length + n1.srv6.policies.length).toBeGreaterThan(0);
    expect(n2.egressGateway.some((g) => g.isGateway)).toBe(true);
    const n3 = compileNodeState(snapshot, "n3");
    expect([...n1.problems, ...n3.problems].map((p) => p.area).sort()).toEqual(["bgp", "srv6"]);
    expect(n1.peers.length).toBe(2);
  });

  it("is byte-identical to what it was before the compiler was split into sections", () => {
    expect(pinned(goldenCluster())).toEqual(GOLDEN);
  });
});

// Re-pinned when SRv6 locators and SIDs came from stored allocations: the golden cluster gained a
// pool too small for all three nodes, and the VRF ID too wide for the function bits is served with
// an allocated function; blue's SIDs stayed the same. Only the srv6 and problems sections moved.
const GOLDEN = {
  n1: {
    json: "67a38fbff4bd8319eee6e28b0fa9941fd8f6b9a30f670c5cbd4356095f7fec6a",
    contentHash: "efbf3914a9343f78a14463e9d1061fb269615ffdf2404a04ca8038237897b646",
    sections: {
      node: "1ac3a48a7aba6d930a50b29ae8889c84216e96084c1f2bcad4230762dd7bf360",
      peers: "f92c982f96d41a60cbb0ffb97665529cb15fbd7be8f5523732c8cfe822864fc3",
      endpoints: "eb009ba0625057b8f9b98d3b885bbd2dcfb58b2a412cd2c925050cd6c1cbbace",
      identities: "071c30aaa1744fa81bdcf7b94e0ab35aedfd5058691260a4e8726ad95effaed2",
      ipcache: "e12545f08050e4bf22fb063bf32b71168f602cb1651473e26c460d8927a4f296",
      egressGateway: "3ca34851350b1cefbb792b08c71879053922c20be8879a24e534c40ff43b5c58",
      bgp: "798de730e08eb48e051f5b5618da5a1a8f2083bb1c8a4e5aeb9aeaaab947fb98",
      srv6: "40d59328573030aaf27f3b162f61294d248771ce6f3293a6ad4578a795f17f5c",
      problems: "0c0e44e2c5e30a6e145f27ac65a03dffbaebb475fc58756fd0a7c386ac3fe343",
    },
  },
  n2: {
    json: "0c9768c1f362f1ee475c8bd85bf1854d51214aa7ef09d8e00e729b3ef65f9d64",
    contentHash: "21d488eb6161caca4f5a2e6eebbb73509a1bd01ac56bf011e83eea15cfbf6643",
    sections: {
      node: "cf296acb2f3ce43aceb0d9ea18fa31edfdeb6e83631b4898ca7e12ea4f63fd73",
      peers: "b90e9a50d1223de4f52df17f917432093779d15a699c2e334654b46be2a6503f",
      endpoints: "82c2114aa3dc26a3c311927ce73645d095baf9d24d946216f329bad5a9341b5d",
      identities: "7410f5f563ca57372d3c023c77333b7dcc1341002d5716587ebeb07e17f49acc",
      ipcache: "548a73c5cc2971cfa774572becf0950fbc5555b9c4cc21428368450807f6e3d3",
      egressGateway: "123c4e25b0d39c4a4ceb9e76dc4194fbb0d247d73d9ecd740a760628f2e2c164",
      bgp: "bc3457aa472a1be801c5152e4ee2b58ee96ebf37cb184a6c06e75ee32d9e7e4d",
      srv6: "8bc4c2c45ab786fe7e2ab60bd2e08f9ce2711d796ee6a8fe573401752c535e31",
      problems: "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    },
  },
  n3: {
    json: "545768e18ebd1a462fd3a3d2a1ea44c9016e1923db93503f68ec5aabd301e023",
    contentHash: "7011be20d20bb22f60b5b8af8495811a71a32c373cba742eefc59998f8b66528",
    sections: {
      node: "aa760b74d670ee966504b16ac56c701d3be2d2ad4c106db11ee96043e11ee59f",
      peers: "db8aa76cc4966f7a14c2c6d9dd2f2dca79f20c30367c96171ff54b3f21577daf",
      endpoints: "3b53684231d5768841ec5eabb98055d2fe7539f28733421caa5db0bd117510e1",
      identities: "0aa19339654e3bc98a8efc37554d19f6052276f1675f2dd4db0a30484d2179e0",
      ipcache: "8d53093a06b07e27c5fd312507476498719fea279f5980e3f622b00715155509",
      egressGateway: "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
      bgp: "bc3457aa472a1be801c5152e4ee2b58ee96ebf37cb184a6c06e75ee32d9e7e4d",
      srv6: "4dcb35c46eafc949e82d1a957961fcda776a909077093431d44242d2d4d56384",
      problems: "d367b6cf6019c4bbca910da22dbee5fde33b096b1fec519f2522a6e0c04ecd5e",
    },
  },
};
