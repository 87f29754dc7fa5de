import { bgpPeerSpecSchema, networkPolicySpecSchema } from "@meridian/model";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { crdProblems } from "./crdSchemas.test-helpers";
import { ALL_EXAMPLES, BGP_V2 } from "./examples.test-helpers";
import { exportCiliumYaml, type ImportedObject, importCiliumYaml } from "./index";

// Where an object came from differs between the original YAML and its export; what it is may not.
const withoutSource = (objects: ImportedObject[]) =>
  objects.map(({ source: _source, origin: _origin, ...rest }) => rest);

describe("Cilium round trip", () => {
  it.each(ALL_EXAMPLES.map((yaml, i) => [i, yaml]))(
    "example %i imports, exports and imports back unchanged",
    (_i, yaml) => {
      const first = importCiliumYaml(yaml as string);
      expect(first.errors).toEqual([]);
      const exported = exportCiliumYaml(first.objects);
      expect(exported.unsupported).toEqual([]);
      const second = importCiliumYaml(exported.yaml);
      expect(second.errors).toEqual([]);
      expect(second.unsupported).toEqual([]);
      expect(withoutSource(second.objects)).toEqual(withoutSource(first.objects));
      const manifests = parseAllDocuments(exported.yaml).map((d) => d.toJS());
      expect(
        manifests.flatMap((m) => crdProblems(m).map((p) => `${m.kind}/${m.metadata.name} ${p}`)),
      ).toEqual([]);
    },
  );

  it("the CRD check refuses what Cilium refuses: protocol ICMP in toPorts and unknown fields", () => {
    const manifest = {
      apiVersion: "cilium.io/v2",
      kind: "CiliumNetworkPolicy",
      metadata: { name: "icmp", namespace: "default" },
      spec: {
        endpointSelector: {},
        egress: [{ toPorts: [{ ports: [{ port: "0", protocol: "ICMP" }] }], toPort: [] }],
      },
    };
    expect(crdProblems(manifest)).toEqual([
      "/spec/egress/0: must NOT have additional properties (toPort)",
      "/spec/egress/0/toPorts/0/ports/0/protocol: must be equal to one of the allowed values",
    ]);
  });

  it("exports protocol ICMP as icmps with every type, which Cilium accepts and which imports back as ICMP", () => {
    const spec = networkPolicySpecSchema.parse({
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [
        {
          toEntities: ["world"],
          toPorts: [
            {
              ports: [
                { port: "443", protocol: "TCP" },
                { port: "0", protocol: "ICMP" },
              ],
            },
          ],
        },
        { toEntities: ["cluster"], toPorts: [{ ports: [{ port: "0", protocol: "ICMPv6" }] }] },
      ],
    });
    const objects = [{ kind: "NetworkPolicy" as const, name: "ping", namespace: "default", spec }];
    const { yaml } = exportCiliumYaml(objects);
    const [manifest] = parseAllDocuments(yaml).map((d) => d.toJS());
    expect(crdProblems(manifest)).toEqual([]);
    expect(manifest.spec.egress[0].toPorts).toEqual([{ ports: [{ port: "443", protocol: "TCP" }] }]);
    const icmpTypes = manifest.spec.egress[0].icmps.flatMap((r: { fields: { type: number }[] }) => r.fields);
    expect(icmpTypes).toHaveLength(256);
    expect(manifest.spec.egress[1]).not.toHaveProperty("toPorts");
    const back = importCiliumYaml(yaml);
    expect(back.errors).toEqual([]);
    expect(back.unsupported).toEqual([]);
    expect(back.objects[0]!.spec).toEqual(spec);
  });

  it("exports BGP under the documents' own names: the cluster config and the peer config the peers share", () => {
    const { yaml } = exportCiliumYaml(importCiliumYaml(BGP_V2).objects);
    const docs = parseAllDocuments(yaml).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      "CiliumBGPClusterConfig/cilium-bgp",
      "CiliumBGPPeerConfig/cilium-peer",
      "CiliumBGPAdvertisement/bgp-advertisements",
    ]);
    // Its labels kept; the label the exported peer config selects on added.
    expect(docs[2].metadata.labels).toEqual({
      advertise: "bgp",
      "meridian.io/advertisement": "bgp-advertisements",
    });
    expect(
      docs[2].spec.advertisements.map((a: { advertisementType: string }) => a.advertisementType),
    ).toEqual(["PodCIDR", "Service"]);
    expect(docs[0].spec.bgpInstances[0].name).toBe("instance-65000");
    expect(docs[0].spec.bgpInstances[0].peers[0]).toEqual({
      name: "peer-65000-tor1",
      peerAddress: "fd00:10:0:0::1",
      peerASN: 65000,
      peerConfigRef: { name: "cilium-peer" },
    });
    expect(docs[1].spec.timers).toEqual({
      connectRetryTimeSeconds: 120,
      holdTimeSeconds: 9,
      keepAliveTimeSeconds: 3,
    });
    expect(docs.every((d) => d.apiVersion === "cilium.io/v2")).toBe(true);
  });

  it("one cluster config with two instances and two peers sharing a peer config exports as it was", () => {
    const first = importCiliumYaml(`
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata: { name: fabric, labels: { site: dc1 } }
spec:
  nodeSelector: { matchLabels: { rack: r1 } }
  bgpInstances:
  - name: tor-a
    localASN: 65001
    peers:
    - { name: a1, peerASN: 65100, peerAddress: 192.0.2.1, peerConfigRef: { name: tor } }
  - name: tor-b
    localASN: 65002
    peers:
    - { name: b1, peerASN: 65100, peerAddress: 192.0.2.2, peerConfigRef: { name: tor } }
---
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata: { name: tor }
spec:
  timers: { holdTimeSeconds: 30, keepAliveTimeSeconds: 10 }
  families: [{ afi: ipv4, safi: unicast, advertisements: { matchLabels: { adv: pods } } }]
---
apiVersion: cilium.io/v2
kind: CiliumBGPAdvertisement
metadata: { name: pods, labels: { adv: pods } }
spec:
  advertisements: [{ advertisementType: PodCIDR }]
`);
    expect(first.errors).toEqual([]);
    const docs = () => (objects: ImportedObject[]) =>
      parseAllDocuments(exportCiliumYaml(objects).yaml).map((d) => d.toJS());
    const manifests = docs()(first.objects);
    expect(manifests.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      "CiliumBGPClusterConfig/fabric",
      "CiliumBGPPeerConfig/tor",
      "CiliumBGPAdvertisement/pods",
    ]);
    expect(manifests[0].metadata.labels).toEqual({ site: "dc1" });
    expect(
      manifests[0].spec.bgpInstances.map((i: { name: string; peers: { peerConfigRef: unknown }[] }) => [
        i.name,
        i.peers[0]!.peerConfigRef,
      ]),
    ).toEqual([
      ["tor-a", { name: "tor" }],
      ["tor-b", { name: "tor" }],
    ]);
    // Imported back: the same objects.
    const again = importCiliumYaml(exportCiliumYaml(first.objects).yaml);
    expect(withoutSource(again.objects)).toEqual(withoutSource(first.objects));
    // One peer's hold time changed in Meridian: it gets a peer config of its own, the other keeps "tor".
    const changed = first.objects.map((o) =>
      o.kind === "BgpPeer" && o.name === "b1" ? { ...o, spec: { ...o.spec, holdTimeSeconds: 90 } } : o,
    );
    const split = docs()(changed);
    expect(split.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      "CiliumBGPClusterConfig/fabric",
      "CiliumBGPPeerConfig/tor",
      "CiliumBGPPeerConfig/b1",
      "CiliumBGPAdvertisement/pods",
    ]);
    expect(split[0].spec.bgpInstances[1].peers[0].peerConfigRef).toEqual({ name: "b1" });
    expect(split[2].spec.timers.holdTimeSeconds).toBe(90);
  });

  it("keeps a disabled policy disabled through an annotation Cilium ignores", () => {
    const spec = networkPolicySpecSchema.parse({ enabled: false, endpointSelector: {}, ingress: [{}] });
    const { yaml } = exportCiliumYaml([{ kind: "NetworkPolicy", name: "off", namespace: "default", spec }]);
    expect(yaml).toContain('meridian.io/enabled: "false"');
    expect(yaml).not.toMatch(/^\s+enabled:/m);
    expect(importCiliumYaml(yaml).objects[0]).toMatchObject({ spec: { enabled: false } });
  });

  it("a peer's import policy and install flag are listed as unsupported but survive a round trip", () => {
    const importPolicy = {
      rules: [{ prefix: "10.0.0.0/8", le: 24, action: "accept" as const, localPreference: 120 }],
      default: "reject" as const,
    };
    const spec = bgpPeerSpecSchema.parse({
      instance: "tor",
      address: "192.0.2.254",
      peerASN: 65000,
      importPolicy,
      installRoutes: true,
    });
    const { password: _p, ...peerSpec } = spec;
    const result = exportCiliumYaml([
      { kind: "BgpInstance", name: "tor", namespace: null, spec: { nodeSelector: {}, localASN: 65001 } },
      { kind: "BgpPeer", name: "tor-a", namespace: null, spec: peerSpec },
    ]);
    expect(result.unsupported.map((u) => `${u.object} ${u.field}`)).toEqual([
      "BgpPeer/tor-a spec.importPolicy",
      "BgpPeer/tor-a spec.installRoutes",
    ]);
    expect(result.unsupported[1]?.reason).toMatch(/Cilium never installs routes learned over BGP/);
    const back = importCiliumYaml(result.yaml);
    expect(back.errors).toEqual([]);
    expect(back.objects.find((o) => o.kind === "BgpPeer")).toMatchObject({
      spec: { importPolicy, installRoutes: true },
    });
  });

  it("lists what Cilium cannot express instead of dropping it", () => {
    const result = exportCiliumYaml([
      {
        kind: "BgpAdvertisement",
        name: "egress-ips",
        namespace: null,
        spec: { type: "EgressIP", communities: [], largeCommunities: [] },
      },
      {
        kind: "BgpInstance",
        name: "tor",
        namespace: null,
        spec: { nodeSelector: {}, localASN: 65001, routerID: "192.0.2.1" },
      },
    ]);
    expect(result.unsupported).toEqual([
      {
        object: "BgpInstance/tor",
        field: "spec.routerID",
        reason: "CiliumBGPClusterConfig has no router ID field",
      },
      {
        object: "BgpAdvertisement/egress-ips",
        field: "spec.type",
        reason: "Cilium OSS has no EgressIP advertisement; not exported",
      },
    ]);
  });
});
