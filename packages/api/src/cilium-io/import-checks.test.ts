// The cross-object checks of create and update (egress IPs on gateway nodes, BGP instances that
// exist, peer addresses once per node) hold for an import too, with the API's own words; they
// are read once per import and see what the import itself did to the objects before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EGRESS_GATEWAY } from "../cilium/examples.test-helpers";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await (await h.as("admin")).nodes.create({
    name: "node1",
    labels: { "node.kubernetes.io/name": "node1", rack: "r1" },
    addresses: ["10.168.60.11/24"],
  });
});
afterAll(() => h.close());

const clusterConfig = (instances: { name: string; peers: { name: string; address: string }[] }[]) => `
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata: {name: cluster}
spec:
  nodeSelector: {matchLabels: {rack: r1}}
  bgpInstances:
${instances
  .map(
    (i) =>
      `  - name: ${i.name}\n    localASN: 64512\n    peers:\n${i.peers.map((p) => `    - {name: ${p.name}, peerASN: 65000, peerAddress: ${p.address}}\n`).join("")}`,
  )
  .join("")}`;

describe("cross-object checks in an import", () => {
  it("an egress IP that no gateway node owns is refused as the API refuses it", async () => {
    const op = await h.as("operator");
    const yaml = EGRESS_GATEWAY.replace("egressIP: 10.168.60.100", "egressIP: 192.0.2.1");
    const err = await errorOf(() => op.cilium.import({ yaml }));
    const imported = err.fieldErrors?.["yaml.document 0.spec.gateways[0].egressIP"];
    expect(imported).toHaveLength(1);
    const api = await errorOf(async () =>
      op.egress.create({
        name: "direct",
        spec: {
          selectors: [{ podSelector: {} }],
          destinationCIDRs: ["0.0.0.0/0"],
          gateways: [
            { nodeSelector: { matchLabels: { "node.kubernetes.io/name": "node1" } }, egressIP: "192.0.2.1" },
          ],
        },
      }),
    );
    expect(imported![0]).toBe(
      `egress gateway policy egress-sample: ${api.fieldErrors?.["spec.gateways.0.egressIP"]?.[0]}`,
    );
    expect((await op.cilium.import({ yaml: EGRESS_GATEWAY })).objects.map((o) => o.action)).toEqual([
      "created",
    ]);
  });

  it("a peer may name an instance made earlier in the same import, not one that does not exist", async () => {
    const op = await h.as("operator");
    const ok = await op.cilium.import({
      yaml: clusterConfig([{ name: "tor", peers: [{ name: "tor-a", address: "192.0.2.10" }] }]),
    });
    expect(ok.objects.map((o) => `${o.kind} ${o.action}`)).toEqual([
      "BgpInstance created",
      "BgpPeer created",
    ]);

    const api = await errorOf(() =>
      op.bgp.peers.create({
        name: "lost",
        spec: { instance: "absent", address: "192.0.2.99", peerASN: 65000 },
      }),
    );
    expect(api.fieldErrors).toEqual({ "spec.instance": ["no BGP instance named absent"] });
  });

  it("two peers of one instance with one address: the second is refused, naming the first", async () => {
    const op = await h.as("operator");
    const before = await h.db.revision.count();
    const err = await errorOf(() =>
      op.cilium.import({
        yaml: clusterConfig([
          {
            name: "spine",
            peers: [
              { name: "spine-a", address: "192.0.2.20" },
              { name: "spine-b", address: "192.0.2.20" },
            ],
          },
        ]),
      }),
    );
    expect(Object.keys(err.fieldErrors ?? {})).toEqual([
      "yaml.document 0.spec.bgpInstances[0].peers[1].address",
    ]);
    expect(err.message).toContain(
      "BGP peer spine-b: 192.0.2.20 is already the address of BGP peer spine-a of instance spine",
    );
    expect(await h.db.revision.count()).toBe(before);
  });

  it("an address taken by a stored peer of another instance on the same node is refused; the peer itself may be imported again", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.cilium.import({
        yaml: clusterConfig([{ name: "leaf", peers: [{ name: "leaf-a", address: "192.0.2.10" }] }]),
      }),
    );
    expect(err.message).toContain(
      "BGP peer leaf-a: 192.0.2.10 is already the address of BGP peer tor-a of instance tor on node node1",
    );
    const again = await op.cilium.import({
      yaml: clusterConfig([{ name: "tor", peers: [{ name: "tor-a", address: "192.0.2.10" }] }]),
    });
    expect(again.objects.map((o) => o.action)).toEqual(["unchanged", "unchanged"]);
  });
});
