// exportCiliumYaml: Meridian objects → Cilium YAML (cilium.io/v2). Meridian-only settings go into
// meridian.io/ annotations; what Cilium cannot express at all is listed in `unsupported`.

import { type CiliumSource, EGRESS_HA_DEFAULTS, type LabelSelector, selectorMatches } from "@meridian/model";
import { stringify } from "yaml";
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
const DEFAULT_HA = EGRESS_HA_DEFAULTS;

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

interface CiliumDocument<T> {
  name: string;
  parts: T[];
  /** Written as the document's list (`specs`, `advertisements`), not as one object's document. */
  grouped: boolean;
}

/**
 * Objects made from one document's list (a policy's `specs`, an advertisement's `advertisements`:
 * named `<document>-<part>` by the import) back into that document, so that applying the export to
 * Cilium replaces the original instead of adding `<document>-0…N` beside it. Grouped only when
 * importing the document again gives the same objects: parts 0…n-1 all there (n ≥ 2), each still
 * named after its part, agreeing on what the document holds once (`shared`, e.g. its annotations),
 * and no other object of the export already named like the document. Otherwise each part is written
 * alone under its own name, which imports back as the same object too.
 */
function regroup<T extends { name: string; namespace: string | null }>(
  items: T[],
  source: (item: T) => CiliumSource | undefined,
  shared: (item: T) => string,
): CiliumDocument<T>[] {
  const buckets = new Map<string, T[]>();
  const alone: T[] = [];
  for (const item of items) {
    const src = source(item);
    if (src?.part === undefined) alone.push(item);
    else {
      const key = `${item.namespace ?? ""}/${src.name}`;
      buckets.set(key, [...(buckets.get(key) ?? []), item]);
    }
  }
  const taken = new Set(items.map((i) => `${i.namespace ?? ""}/${i.name}`));
  const documents: CiliumDocument<T>[] = [];
  for (const [key, bucket] of buckets) {
    const parts = [...bucket].sort((a, b) => source(a)!.part! - source(b)!.part!);
    const name = source(parts[0]!)!.name;
    const whole =
      parts.length >= 2 &&
      !taken.has(key) &&
      parts.every((p, i) => source(p)!.part === i && p.name === `${name}-${i}`) &&
      parts.every((p) => shared(p) === shared(parts[0]!));
    if (whole) documents.push({ name, parts, grouped: true });
    else alone.push(...parts);
  }
  for (const item of alone) documents.push({ name: item.name, parts: [item], grouped: false });
  return documents;
}

/** Policies back into Cilium documents (see regroup); `enabled` is one annotation per document. */
function exportPolicies(policies: Policy[]): Manifest[] {
  const documents = regroup(
    policies,
    (p) => p.spec.ciliumSource,
    (p) => JSON.stringify([p.spec.enabled !== false, p.spec.ciliumSource?.labels ?? {}]),
  );
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

/** The CiliumBGPAdvertisement document each advertisement is written into (exportAdvertisements). */
type AdDocuments = Map<Advertisement, string>;

function advertisementsForPeer(peer: Peer, ads: Advertisement[], adDocument: AdDocuments): string[] {
  return ads
    .filter((ad) => {
      const { peers, peerSelector } = ad.spec;
      if (peers === undefined && peerSelector === undefined) return true;
      return (
        (peers ?? []).includes(peer.name) ||
        (peerSelector !== undefined && selectorMatches(peerSelector, peer.spec.labels ?? {}))
      );
    })
    .map((ad) => adDocument.get(ad) ?? ad.name)
    .filter((name, i, all) => all.indexOf(name) === i)
    .sort();
}

/**
 * The advertisement selectors the peer's CiliumBGPPeerConfig had, per family, while they still pick
 * exactly the advertisements the peer is given (no one has rebound them since the import).
 */
function selectorsStillTrue(
  peer: Peer,
  ads: Advertisement[],
  adDocument: AdDocuments,
  adNames: string[],
): Map<string, LabelSelector> | undefined {
  const kept = peer.spec.ciliumAdvertisementSelectors;
  if (!kept) return undefined;
  const families = peer.spec.families ?? [];
  if (kept.length !== families.length || !kept.every((k) => families.includes(k.family))) return undefined;
  const labelsOf = new Map<string, Record<string, string>>();
  for (const ad of ads) {
    const name = adDocument.get(ad) ?? ad.name;
    labelsOf.set(name, { ...(ad.spec.ciliumSource?.labels ?? {}), [ADVERTISEMENT_LABEL]: name });
  }
  for (const k of kept) {
    const picked = [...labelsOf]
      .filter(([, labels]) => k.selector !== undefined && selectorMatches(k.selector, labels))
      .map(([name]) => name)
      .sort();
    if (picked.join() !== adNames.join()) return undefined;
  }
  return new Map(kept.filter((k) => k.selector).map((k) => [k.family, k.selector!]));
}

function exportPeerConfig(
  peer: Peer,
  ads: Advertisement[],
  adDocument: AdDocuments,
  unsupported: UnsupportedField[],
): Manifest {
  const s = peer.spec;
  const adNames = advertisementsForPeer(peer, ads, adDocument);
  const importedSelectors = selectorsStillTrue(peer, ads, adDocument, adNames);
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
        advertisements: importedSelectors?.get(f) ?? {
          matchExpressions: [
            { key: ADVERTISEMENT_LABEL, operator: "In", values: adNames.length > 0 ? adNames : ["none"] },
          ],
        },
      })),
    },
  };
}

/** One advertisement's entry in a CiliumBGPAdvertisement's list; undefined when Cilium has no such type. */
function advertisementEntry(ad: Advertisement, unsupported: UnsupportedField[]): Manifest | undefined {
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
    advertisementType: s.type,
    ...(s.type === "Service"
      ? {
          service: { addresses: s.service.addresses },
          ...(s.service.selector ? { selector: s.service.selector } : {}),
        }
      : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
}

const aggregated = (ad: Advertisement) => ad.spec.type === "Service" && ad.spec.service.aggregate;

/**
 * Advertisements back into CiliumBGPAdvertisements (see regroup). A document's labels are how peer
 * configs select it: the export keeps the original labels and adds `meridian.io/advertisement`,
 * which the exported peer configs select on. Grouped parts must agree on the peers they go to and
 * on aggregation (one annotation per document).
 */
function exportAdvertisements(
  ads: Advertisement[],
  unsupported: UnsupportedField[],
): { manifests: Manifest[]; documentOf: AdDocuments } {
  const entries = new Map<Advertisement, Manifest>();
  for (const ad of ads) {
    const entry = advertisementEntry(ad, unsupported);
    if (entry) entries.set(ad, entry);
  }
  const documentOf: AdDocuments = new Map();
  const documents = regroup(
    [...entries.keys()],
    (ad) => ad.spec.ciliumSource,
    (ad) =>
      JSON.stringify([
        ad.spec.peers ?? null,
        ad.spec.peerSelector ?? null,
        ad.spec.ciliumSource?.labels ?? {},
      ]),
  ).filter(({ parts }) => {
    // Aggregation is one annotation per document: a Service part that differs from another.
    const services = parts.filter((p) => p.spec.type === "Service");
    return services.every((p) => aggregated(p) === aggregated(services[0]!)) || parts.length === 1;
  });
  const placed = new Set(documents.flatMap((d) => d.parts));
  for (const ad of entries.keys())
    if (!placed.has(ad)) documents.push({ name: ad.name, parts: [ad], grouped: false });
  const manifests = documents.map(({ name, parts }) => {
    for (const ad of parts) documentOf.set(ad, name);
    return {
      apiVersion: API_VERSION,
      kind: "CiliumBGPAdvertisement",
      metadata: metadata(name, null, parts.some(aggregated) ? { [AGGREGATE_ANNOTATION]: "true" } : {}, {
        ...parts[0]!.spec.ciliumSource?.labels,
        [ADVERTISEMENT_LABEL]: name,
      }),
      spec: { advertisements: parts.map((ad) => entries.get(ad)!) },
    };
  });
  return { manifests, documentOf };
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
  adDocument: AdDocuments,
  unsupported: UnsupportedField[],
): { manifests: Manifest[]; configOf: Map<Peer, string> } {
  const configOf = new Map<Peer, string>();
  const byName = new Map<string, Manifest>();
  for (const peer of peers) {
    const manifest = exportPeerConfig(peer, ads, adDocument, unsupported);
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
  const advertisements = exportAdvertisements(ads, unsupported);
  const peerConfigs = exportPeerConfigs(peers, ads, advertisements.documentOf, unsupported);
  const manifests = [
    ...exportClusterConfigs(instances, peers, peerConfigs.configOf),
    ...peerConfigs.manifests,
  ];
  manifests.push(...advertisements.manifests);
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
