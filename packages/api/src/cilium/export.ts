// exportCiliumYaml: Meridian objects → Cilium YAML (cilium.io/v2). Meridian-only settings go into
// meridian.io/ annotations; what Cilium cannot express at all is listed in `unsupported`.
import { stringify } from "yaml";
import { selectorMatches } from "../spec";
import {
  ADVERTISE_EGRESS_IP_ANNOTATION,
  ADVERTISEMENT_LABEL,
  AGGREGATE_ANNOTATION,
  EGRESS_HA_ANNOTATION,
  ENABLED_ANNOTATION,
  IMPORT_POLICY_ANNOTATION,
  INSTALL_ROUTES_ANNOTATION,
  PEER_LABELS_ANNOTATION,
  VERSION_ANNOTATION,
} from "./annotations";
import type { ImportedObject, UnsupportedField } from "./types";

/** What can be exported: the import's object shape, without the import's bookkeeping. */
export type ExportableObject = ImportedObject extends infer O
  ? O extends ImportedObject
    ? Omit<O, "source" | "origin">
    : never
  : never;

export interface ExportResult {
  yaml: string;
  unsupported: UnsupportedField[];
}

type Manifest = Record<string, unknown>;

const API_VERSION = "cilium.io/v2";
const DEFAULT_HA = { healthCheckIntervalMs: 1000, healthCheckTimeoutMs: 3000, maxActiveGateways: 1 };

function metadata(
  name: string,
  namespace: string | null,
  annotations: Record<string, string>,
  labels?: Record<string, string>,
) {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

type PolicyRule = { toPorts?: { ports?: { port?: unknown; protocol?: string }[] }[] } & Record<
  string,
  unknown
>;

/** ICMP types one Cilium `icmps` rule may list (the CRD's maxItems for `fields`). */
const ICMP_FIELDS_PER_RULE = 40;
const ICMP_FAMILY: Record<string, "IPv4" | "IPv6"> = { ICMP: "IPv4", ICMPv6: "IPv6" };

/**
 * Cilium's CRD refuses protocol ICMP in toPorts; ICMP is matched by `icmps` types instead. An ICMP
 * entry (port 0: every type; port N: type N, the way Cilium keys ICMP in its policy map) becomes
 * icmps fields, which import back as the same entry.
 */
function icmpToCilium(rule: PolicyRule): PolicyRule {
  const fields: { type: number; family: "IPv4" | "IPv6" }[] = [];
  const toPorts = (rule.toPorts ?? []).flatMap((portRule) => {
    const ports = (portRule.ports ?? []).filter((pp) => {
      const family = ICMP_FAMILY[pp.protocol ?? ""];
      if (!family) return true;
      const port = Number(pp.port ?? 0);
      if (port === 0) for (let type = 0; type < 256; type++) fields.push({ type, family });
      else fields.push({ type: port, family });
      return false;
    });
    if (ports.length === (portRule.ports ?? []).length) return [portRule];
    return ports.length > 0 || Object.keys(portRule).some((k) => k !== "ports")
      ? [{ ...portRule, ports }]
      : [];
  });
  if (fields.length === 0) return rule;
  const { toPorts: _old, ...rest } = rule;
  const icmps: { fields: typeof fields }[] = [];
  for (let i = 0; i < fields.length; i += ICMP_FIELDS_PER_RULE)
    icmps.push({ fields: fields.slice(i, i + ICMP_FIELDS_PER_RULE) });
  return { ...rest, ...(toPorts.length > 0 ? { toPorts } : {}), icmps };
}

type Policy = Extract<ExportableObject, { kind: "NetworkPolicy" }>;

function ciliumPolicySpec(obj: Policy): Record<string, unknown> {
  const { enabled, ciliumSource, ...withIcmp } = obj.spec;
  const spec: Record<string, unknown> = { ...withIcmp };
  for (const direction of ["ingress", "ingressDeny", "egress", "egressDeny"] as const) {
    const rules = withIcmp[direction] as PolicyRule[] | undefined;
    if (rules) spec[direction] = rules.map(icmpToCilium);
  }
  return spec;
}

/**
 * Policies back into Cilium documents. Those imported from one document's `specs` list (the same
 * `ciliumSource.name` with parts, in one namespace) become that document again, its specs in their
 * old order, so that applying the export to Cilium replaces the original instead of adding
 * `name-0…N` beside it. Cilium has no `enabled`, only this one annotation per document: a part
 * disabled while others are not leaves the document and is written alone under its own name (and
 * so is a part left alone: a one-spec list would import back under the document's name).
 */
function exportPolicies(policies: Policy[]): Manifest[] {
  const groups = new Map<string, Policy[]>();
  for (const p of policies) {
    const src = p.spec.ciliumSource;
    const key =
      src?.part !== undefined ? `doc/${p.namespace ?? ""}/${src.name}` : `one/${p.namespace ?? ""}/${p.name}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const documents: { name: string; parts: Policy[]; grouped: boolean }[] = [];
  for (const group of groups.values()) {
    const src = group[0]!.spec.ciliumSource;
    if (src?.part === undefined) {
      documents.push({ name: group[0]!.name, parts: group, grouped: false });
      continue;
    }
    const enabled = group.filter((p) => p.spec.enabled !== false);
    const together = enabled.length > 0 ? enabled : group;
    // One spec in a `specs` list would import back under the document's name, not the part's.
    if (together.length < 2) {
      for (const p of group) documents.push({ name: p.name, parts: [p], grouped: false });
      continue;
    }
    documents.push({
      name: src.name,
      parts: [...together].sort((a, b) => a.spec.ciliumSource!.part! - b.spec.ciliumSource!.part!),
      grouped: true,
    });
    for (const p of group)
      if (!together.includes(p)) documents.push({ name: p.name, parts: [p], grouped: false });
  }
  return documents.map(({ name, parts, grouped }) => {
    const first = parts[0]!;
    const annotations: Record<string, string> =
      first.spec.enabled === false ? { [ENABLED_ANNOTATION]: "false" } : {};
    return {
      apiVersion: API_VERSION,
      kind: first.namespace === null ? "CiliumClusterwideNetworkPolicy" : "CiliumNetworkPolicy",
      metadata: metadata(name, first.namespace, annotations, first.spec.ciliumSource?.labels),
      ...(grouped ? { specs: parts.map(ciliumPolicySpec) } : { spec: ciliumPolicySpec(first) }),
    };
  });
}

function exportEgress(
  obj: Extract<ExportableObject, { kind: "EgressGatewayPolicy" }>,
  unsupported: UnsupportedField[],
): Manifest {
  const { enabled, gateways, ha, advertiseEgressIP, excludedCIDRs, ...rest } = obj.spec;
  const annotations: Record<string, string> = {};
  if (enabled === false) annotations[ENABLED_ANNOTATION] = "false";
  if (advertiseEgressIP) annotations[ADVERTISE_EGRESS_IP_ANNOTATION] = "true";
  if (JSON.stringify(ha) !== JSON.stringify(DEFAULT_HA))
    annotations[EGRESS_HA_ANNOTATION] = JSON.stringify(ha);
  const ciliumGateways = gateways.map((gw, i) => {
    const { nodeName, ...g } = gw;
    if (nodeName === undefined) return g;
    unsupported.push({
      object: `EgressGatewayPolicy/${obj.name}`,
      field: `spec.gateways[${i}].nodeName`,
      reason: "Cilium selects gateways by label; exported as nodeSelector kubernetes.io/hostname",
    });
    return { nodeSelector: { matchLabels: { "kubernetes.io/hostname": nodeName } }, ...g };
  });
  return {
    apiVersion: API_VERSION,
    kind: "CiliumEgressGatewayPolicy",
    metadata: metadata(obj.name, null, annotations),
    spec: {
      ...rest,
      ...(excludedCIDRs.length > 0 ? { excludedCIDRs } : {}),
      // OSS Cilium takes one gateway; several are written as egressGateways (Cilium Enterprise HA).
      ...(ciliumGateways.length === 1
        ? { egressGateway: ciliumGateways[0] }
        : { egressGateways: ciliumGateways }),
    },
  };
}

const FAMILY_TO_CILIUM: Record<string, { afi: string; safi: string }> = {
  "ipv4-unicast": { afi: "ipv4", safi: "unicast" },
  "ipv6-unicast": { afi: "ipv6", safi: "unicast" },
  vpnv4: { afi: "ipv4", safi: "mpls_vpn" },
  vpnv6: { afi: "ipv6", safi: "mpls_vpn" },
};

type Peer = Extract<ExportableObject, { kind: "BgpPeer" }>;
type Advertisement = Extract<ExportableObject, { kind: "BgpAdvertisement" }>;

function advertisementsForPeer(peer: Peer, ads: Advertisement[]): string[] {
  return ads
    .filter((ad) => {
      const { peers, peerSelector } = ad.spec;
      if (peers === undefined && peerSelector === undefined) return true;
      return (
        (peers ?? []).includes(peer.name) ||
        (peerSelector !== undefined && selectorMatches(peerSelector, peer.spec.labels ?? {}))
      );
    })
    .map((ad) => ad.name)
    .sort();
}

function exportPeerConfig(peer: Peer, ads: Advertisement[], unsupported: UnsupportedField[]): Manifest {
  const s = peer.spec;
  const adNames = advertisementsForPeer(peer, ads);
  const labels = s.labels ?? {};
  const annotations: Record<string, string> = {};
  if (Object.keys(labels).length > 0) annotations[PEER_LABELS_ANNOTATION] = JSON.stringify(labels);
  // Cilium rejects every route a peer sends and installs none: these only survive as annotations.
  if (s.importPolicy) {
    annotations[IMPORT_POLICY_ANNOTATION] = JSON.stringify(s.importPolicy);
    unsupported.push({
      object: `BgpPeer/${peer.name}`,
      field: "spec.importPolicy",
      reason: `Cilium does not import routes from peers; kept in the ${IMPORT_POLICY_ANNOTATION} annotation`,
    });
  }
  if (s.installRoutes) {
    annotations[INSTALL_ROUTES_ANNOTATION] = "true";
    unsupported.push({
      object: `BgpPeer/${peer.name}`,
      field: "spec.installRoutes",
      reason: `Cilium never installs routes learned over BGP; kept in the ${INSTALL_ROUTES_ANNOTATION} annotation`,
    });
  }
  return {
    apiVersion: API_VERSION,
    kind: "CiliumBGPPeerConfig",
    metadata: metadata(peer.name, null, annotations),
    spec: {
      transport: { peerPort: s.port },
      timers: {
        connectRetryTimeSeconds: s.connectRetrySeconds,
        holdTimeSeconds: s.holdTimeSeconds,
        ...(s.keepaliveSeconds !== undefined ? { keepAliveTimeSeconds: s.keepaliveSeconds } : {}),
      },
      ...(s.ebgpMultihop !== undefined ? { ebgpMultihop: s.ebgpMultihop } : {}),
      ...(s.gracefulRestart ? { gracefulRestart: s.gracefulRestart } : {}),
      families: (s.families ?? []).map((f) => ({
        ...FAMILY_TO_CILIUM[f],
        advertisements: {
          matchExpressions: [
            { key: ADVERTISEMENT_LABEL, operator: "In", values: adNames.length > 0 ? adNames : ["none"] },
          ],
        },
      })),
    },
  };
}

function exportAdvertisement(ad: Advertisement, unsupported: UnsupportedField[]): Manifest | undefined {
  const s = ad.spec;
  const object = `BgpAdvertisement/${ad.name}`;
  if (s.type === "EgressIP" || s.type === "VRFRoutes") {
    unsupported.push({
      object,
      field: "spec.type",
      reason: `Cilium OSS has no ${s.type} advertisement; not exported`,
    });
    return undefined;
  }
  const wellKnown = s.communities.filter((c) => !/^\d+:\d+$/.test(c));
  const standard = s.communities.filter((c) => /^\d+:\d+$/.test(c));
  const communities = {
    ...(standard.length > 0 ? { standard } : {}),
    ...(wellKnown.length > 0 ? { wellKnown } : {}),
    ...(s.largeCommunities.length > 0 ? { large: s.largeCommunities } : {}),
  };
  const attributes = {
    ...(Object.keys(communities).length > 0 ? { communities } : {}),
    ...(s.localPreference !== undefined ? { localPreference: s.localPreference } : {}),
  };
  return {
    apiVersion: API_VERSION,
    kind: "CiliumBGPAdvertisement",
    metadata: metadata(
      ad.name,
      null,
      s.type === "Service" && s.service.aggregate ? { [AGGREGATE_ANNOTATION]: "true" } : {},
      { [ADVERTISEMENT_LABEL]: ad.name },
    ),
    spec: {
      advertisements: [
        {
          advertisementType: s.type,
          ...(s.type === "Service"
            ? {
                service: { addresses: s.service.addresses },
                ...(s.service.selector ? { selector: s.service.selector } : {}),
              }
            : {}),
          ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
        },
      ],
    },
  };
}

type Instance = Extract<ExportableObject, { kind: "BgpInstance" }>;

/**
 * Instances back into CiliumBGPClusterConfigs: those imported from one cluster config (the same
 * `ciliumSource.name`) become it again, in their old order, while they still share its node
 * selector; the rest are written one each, under the cluster config's name when it was theirs alone.
 */
function exportClusterConfigs(
  instances: Instance[],
  peers: Peer[],
  peerConfigOf: Map<Peer, string>,
): Manifest[] {
  const groups = new Map<string, Instance[]>();
  for (const inst of instances) {
    const src = inst.spec.ciliumSource;
    const key = src ? `doc/${src.name}/${JSON.stringify(inst.spec.nodeSelector)}` : `one/${inst.name}`;
    groups.set(key, [...(groups.get(key) ?? []), inst]);
  }
  const taken = new Set<string>();
  const manifests: Manifest[] = [];
  for (const group of groups.values()) {
    const ordered = [...group].sort(
      (a, b) => (a.spec.ciliumSource?.part ?? 0) - (b.spec.ciliumSource?.part ?? 0),
    );
    const src = ordered[0]!.spec.ciliumSource;
    // Two groups from one document (their node selectors now differ): the second keeps its own name.
    const name = src && !taken.has(src.name) ? src.name : ordered[0]!.name;
    taken.add(name);
    manifests.push({
      apiVersion: API_VERSION,
      kind: "CiliumBGPClusterConfig",
      metadata: metadata(name, null, {}, src?.labels),
      spec: {
        nodeSelector: ordered[0]!.spec.nodeSelector,
        bgpInstances: ordered.map((inst) => ({
          name: inst.name,
          localASN: inst.spec.localASN,
          peers: peers
            .filter((p) => p.spec.instance === inst.name)
            .map((p) => ({
              name: p.name,
              peerAddress: p.spec.address,
              peerASN: p.spec.peerASN,
              peerConfigRef: { name: peerConfigOf.get(p) ?? p.name },
            })),
        })),
      },
    });
  }
  return manifests;
}

/**
 * Peers back into CiliumBGPPeerConfigs: peers imported from one peer config share it again, named
 * as it was, as long as what they export is the same; a peer whose settings have since changed
 * gets its own config under its own name.
 */
function exportPeerConfigs(
  peers: Peer[],
  ads: Advertisement[],
  unsupported: UnsupportedField[],
): { manifests: Manifest[]; configOf: Map<Peer, string> } {
  const configOf = new Map<Peer, string>();
  const byName = new Map<string, Manifest>();
  for (const peer of peers) {
    const manifest = exportPeerConfig(peer, ads, unsupported);
    const shared = peer.spec.ciliumPeerConfig;
    const same = (m: Manifest | undefined) =>
      m !== undefined &&
      JSON.stringify({ ...m, metadata: undefined }) === JSON.stringify({ ...manifest, metadata: undefined });
    let name = peer.name;
    if (shared && (!byName.has(shared) || same(byName.get(shared)))) name = shared;
    if (byName.has(name) && !same(byName.get(name))) name = peer.name;
    (manifest.metadata as { name: string }).name = name;
    if (!byName.has(name)) byName.set(name, manifest);
    configOf.set(peer, name);
  }
  return { manifests: [...byName.values()], configOf };
}

function exportBgp(objects: ExportableObject[], unsupported: UnsupportedField[]): Manifest[] {
  const instances = objects.filter((o): o is Instance => o.kind === "BgpInstance");
  const peers = objects.filter((o): o is Peer => o.kind === "BgpPeer");
  const ads = objects.filter((o): o is Advertisement => o.kind === "BgpAdvertisement");
  for (const inst of instances) {
    if (inst.spec.routerID) {
      unsupported.push({
        object: `BgpInstance/${inst.name}`,
        field: "spec.routerID",
        reason: "CiliumBGPClusterConfig has no router ID field",
      });
    }
  }
  for (const peer of peers) {
    if (!instances.some((i) => i.name === peer.spec.instance)) {
      unsupported.push({
        object: `BgpPeer/${peer.name}`,
        field: "spec.instance",
        reason: `instance ${peer.spec.instance} is not in the export; the peer config is exported without a cluster config`,
      });
    }
  }
  const peerConfigs = exportPeerConfigs(peers, ads, unsupported);
  const manifests = [
    ...exportClusterConfigs(instances, peers, peerConfigs.configOf),
    ...peerConfigs.manifests,
  ];
  for (const ad of ads) {
    const manifest = exportAdvertisement(ad, unsupported);
    if (manifest) manifests.push(manifest);
  }
  return manifests;
}

/** The Meridian kind each Cilium kind is exported from. */
const MANIFEST_SOURCE: Record<string, ExportableObject["kind"]> = {
  CiliumNetworkPolicy: "NetworkPolicy",
  CiliumClusterwideNetworkPolicy: "NetworkPolicy",
  CiliumEgressGatewayPolicy: "EgressGatewayPolicy",
  CiliumBGPClusterConfig: "BgpInstance",
  CiliumBGPPeerConfig: "BgpPeer",
  CiliumBGPAdvertisement: "BgpAdvertisement",
};

/** Each manifest carries the version of the object it was made from, so a re-import can tell it is stale. */
function stampVersions(manifests: Manifest[], objects: ExportableObject[]): void {
  const versions = new Map(
    objects
      .filter((o) => o.version !== undefined)
      .map((o) => [`${o.kind}/${o.namespace ?? ""}/${o.name}`, o.version!]),
  );
  for (const m of manifests) {
    const meta = m.metadata as { name: string; namespace?: string; annotations?: Record<string, string> };
    const version = versions.get(`${MANIFEST_SOURCE[String(m.kind)]}/${meta.namespace ?? ""}/${meta.name}`);
    if (version === undefined) continue;
    meta.annotations = { ...meta.annotations, [VERSION_ANNOTATION]: String(version) };
  }
}

export function exportCiliumYaml(objects: ExportableObject[]): ExportResult {
  const unsupported: UnsupportedField[] = [];
  const manifests: Manifest[] = [];
  manifests.push(...exportPolicies(objects.filter((o): o is Policy => o.kind === "NetworkPolicy")));
  for (const obj of objects) {
    if (obj.kind === "EgressGatewayPolicy") manifests.push(exportEgress(obj, unsupported));
  }
  manifests.push(...exportBgp(objects, unsupported));
  stampVersions(manifests, objects);
  const yaml = manifests.map((m) => stringify(m, { lineWidth: 0 })).join("---\n");
  return { yaml, unsupported };
}
