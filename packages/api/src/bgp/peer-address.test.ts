// A node's BGP instances share one listener on :179 that tells sessions apart by peer address:
// the API refuses a peer address that another peer of the same instance, or of another instance
// on a common node, already has — naming the field, the other peer and the node.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("BGP peer addresses per node", () => {
  it("refuses a duplicate in one instance, and in two instances that share a node, but not across disjoint nodes", async () => {
    const op = await h.as("operator");
    await h.db.node.create({ data: { name: "rack1-n1", labels: { rack: "r1" }, addresses: ["10.1.0.1"] } });
    await op.bgp.instances.create({
      name: "fabric",
      spec: { nodeSelector: { matchLabels: { rack: "r1" } }, localASN: 65001 },
    });
    await op.bgp.instances.create({ name: "upstream", spec: { nodeSelector: {}, localASN: 65100 } });
    await op.bgp.instances.create({
      name: "rack9",
      spec: { nodeSelector: { matchLabels: { rack: "r9" } }, localASN: 65009 },
    });
    const tor = await op.bgp.peers.create({
      name: "tor-r1",
      spec: { instance: "fabric", address: "192.0.2.1", peerASN: 65010 },
    });

    const same = await errorOf(() =>
      op.bgp.peers.create({
        name: "tor-r1-again",
        spec: { instance: "fabric", address: "192.0.2.1", peerASN: 65011 },
      }),
    );
    expect(Object.keys(same.fieldErrors ?? {})).toEqual(["spec.address"]);
    expect(same.fieldErrors?.["spec.address"]?.[0]).toMatch(
      /^192\.0\.2\.1 is already the address of BGP peer tor-r1 of instance fabric: /,
    );

    // "upstream" runs on every node, so also on rack1-n1 with "fabric".
    const shared = await errorOf(() =>
      op.bgp.peers.create({
        name: "rs-1",
        spec: { instance: "upstream", address: "192.0.2.1", peerASN: 65200 },
      }),
    );
    expect(shared.fieldErrors?.["spec.address"]?.[0]).toMatch(
      /^192\.0\.2\.1 is already the address of BGP peer tor-r1 of instance fabric on node rack1-n1: .*once per node/,
    );

    // Rack 9 has no node yet in common with rack 1: the same router address is fine there.
    await op.bgp.peers.create({
      name: "tor-r9",
      spec: { instance: "rack9", address: "192.0.2.1", peerASN: 65010 },
    });
    // An edit of a peer keeps its own address.
    await op.bgp.peers.update({
      id: tor.id,
      version: tor.version,
      spec: { instance: "fabric", address: "192.0.2.1", peerASN: 65012 },
    });
  });
});
