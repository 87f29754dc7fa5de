// Cilium BGP v2 resources → Meridian BGP instances, peers and advertisements.
// Cilium splits a peer over CiliumBGPClusterConfig (address, ASN) and CiliumBGPPeerConfig
// (timers, families…); Meridian keeps one peer object, so the two are joined here.

import type { LabelSelector, Labels } from "@meridian/model";
import { selectorMatches } from "@meridian/model";
import {
  ADVERTISEMENT_LABEL,
  AGGREGATE_ANNOTATION,
  IMPORT_POLICY_ANNOTATION,
  INSTALL_ROUTES_ANNOTATION,
  PEER_LABELS_ANNOTATION,
} from "./annotations";
import { asArray, isObject, type Json, type JsonObject, Reporter } from "./walk";

export interface CiliumDoc {
  index: number;
  kind: string;
  name: string;
  labels: Labels;
  annotations: JsonObject;
  spec: JsonObject;
  object: string;
}

/** One object made from BGP documents; `at` is where its name and its spec are in `doc`. */
export interface BgpImported {
  name: string;
  spec: JsonObject;
  doc: CiliumDoc;
  at: { name: string; spec: string };
  /** The other document the object took settings from: a peer's CiliumBGPPeerConfig. */
  from?: CiliumDoc;
  /** A stored object this import binds to (not made from `doc`, so `doc`'s version is not its own). */
  bound?: true;
}

export interface BgpImportOutput {
  instances: BgpImported[];
  peers: BgpImported[];
  advertisements: BgpImported[];
  /** Peer configs neither a cluster config of the import nor a stored peer refers to. */
  unbound: CiliumDoc[];
}

/**
 * The BGP objects already stored, so that a document imported on its own binds to those that refer
 * to it (Cilium resolves peerConfigRef and advertisement selectors whenever the objects exist).
 */
export interface StoredBgp {
  peers: { name: string; spec: JsonObject }[];
  advertisements: { name: string; spec: JsonObject }[];
}

/** The peer fields a CiliumBGPPeerConfig sets (settings and Meridian's annotations). */
const PEER_CONFIG_FIELDS = [
  "port",
  "connectRetrySeconds",
  "holdTimeSeconds",
  "keepaliveSeconds",
  "ebgpMultihop",
  "gracefulRestart",
  "families",
  "importPolicy",
  "installRoutes",
  "labels",
  "ciliumAdvertisementSelectors",
];

function withoutConfigFields(spec: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(spec).filter(([k]) => !PEER_CONFIG_FIELDS.includes(k)));
}

/** A name as the YAML gave it; anything but text becomes "", which the name check refuses as missing. */
const nameOf = (value: Json | undefined): string => (typeof value === "string" ? value : "");

const FAMILY_MAP: Record<string, string> = {
  "ipv4/unicast": "ipv4-unicast",
  "ipv6/unicast": "ipv6-unicast",
  "ipv4/mpls_vpn": "vpnv4",
  "ipv6/mpls_vpn": "vpnv6",
};

const WELL_KNOWN = [
  "no-export",
  "no-advertise",
  "no-export-subconfed",
  "no-peer",
  "blackhole",
  "graceful-shutdown",
  "local-as",
];

interface PeerConfig {
  doc: CiliumDoc;
  settings: JsonObject;
  /** Selector over CiliumBGPAdvertisement labels, per family (Cilium keeps them apart). */
  adSelectors: FamilySelector[];
  /** Whether a CiliumBGPClusterConfig of this import refers to it. */
  used?: boolean;
}

interface FamilySelector {
  family: string;
  selector?: LabelSelector;
}

/** The selector a Meridian export gives each family: advertisements by their `meridian.io/advertisement` label. */
function isMeridianSelector(f: FamilySelector): boolean {
  const e = f.selector?.matchExpressions;
  return (
    f.selector?.matchLabels === undefined &&
    e?.length === 1 &&
    e[0]!.key === ADVERTISEMENT_LABEL &&
    e[0]!.operator === "In"
  );
}

function importPeerConfig(doc: CiliumDoc, r: Reporter): PeerConfig {
  const path = "spec";
  const spec = r.pick(doc.spec, path, [
    "transport",
    "timers",
    "ebgpMultihop",
    "gracefulRestart",
    "families",
    "authSecretRef",
  ]);
  const settings: JsonObject = {};
  if (isObject(spec.transport)) {
    const t = r.pick(spec.transport, `${path}.transport`, ["peerPort"], {
      localPort: "a local port other than 179 is not supported",
      sourceInterface: "sourceInterface is not supported",
    });
    if (t.peerPort !== undefined) settings.port = t.peerPort;
  }
  if (isObject(spec.timers)) {
    const t = r.pick(spec.timers, `${path}.timers`, [
      "connectRetryTimeSeconds",
      "holdTimeSeconds",
      "keepAliveTimeSeconds",
    ]);
    if (t.connectRetryTimeSeconds !== undefined) settings.connectRetrySeconds = t.connectRetryTimeSeconds;
    if (t.holdTimeSeconds !== undefined) settings.holdTimeSeconds = t.holdTimeSeconds;
    if (t.keepAliveTimeSeconds !== undefined) settings.keepaliveSeconds = t.keepAliveTimeSeconds;
  }
  if (spec.ebgpMultihop !== undefined) settings.ebgpMultihop = spec.ebgpMultihop;
  if (isObject(spec.gracefulRestart)) {
    settings.gracefulRestart = r.pick(spec.gracefulRestart, `${path}.gracefulRestart`, [
      "enabled",
      "restartTimeSeconds",
    ]);
  }
  if (spec.authSecretRef !== undefined) {
    r.report(
      `${path}.authSecretRef`,
      "the MD5 password lives in a Kubernetes Secret; set it on the Meridian peer after import",
    );
  }
  const families: Json[] = [];
  const adSelectors: FamilySelector[] = [];
  asArray(spec.families).forEach((f, i) => {
    if (!isObject(f)) return;
    const fam = r.pick(f, `${path}.families[${i}]`, ["afi", "safi", "advertisements"]);
    const mapped = FAMILY_MAP[`${String(fam.afi)}/${String(fam.safi)}`];
    if (!mapped) {
      r.report(
        `${path}.families[${i}]`,
        `address family ${String(fam.afi)}/${String(fam.safi)} is not supported`,
      );
      return;
    }
    if (!families.includes(mapped)) families.push(mapped);
    adSelectors.push({
      family: mapped,
      ...(isObject(fam.advertisements) ? { selector: fam.advertisements as LabelSelector } : {}),
    });
  });
  if (families.length > 0) settings.families = families;
  // Kept on the peer, so that an advertisement imported on its own later finds the peers that select
  // it. Not the selectors a Meridian export writes: the export makes those again from the peer's
  // advertisements, and keeping them would make a re-imported export differ from what was exported.
  if (adSelectors.length > 0 && !adSelectors.every(isMeridianSelector))
    settings.ciliumAdvertisementSelectors = adSelectors as unknown as Json;
  // Meridian's own exports carry these; Cilium has no such fields.
  const importPolicy = parseLabelsAnnotation(doc.annotations[IMPORT_POLICY_ANNOTATION]);
  if (importPolicy) settings.importPolicy = importPolicy;
  else if (doc.annotations[IMPORT_POLICY_ANNOTATION] !== undefined)
    r.report(`metadata.annotations.${IMPORT_POLICY_ANNOTATION}`, "not a JSON object; no import policy set");
  if (doc.annotations[INSTALL_ROUTES_ANNOTATION] === "true") settings.installRoutes = true;
  return { doc, settings, adSelectors };
}

function importClusterConfig(
  doc: CiliumDoc,
  peerConfigs: Map<string, PeerConfig>,
  r: Reporter,
  out: BgpImportOutput,
  peerAdSelectors: Map<string, FamilySelector[]>,
  stored: StoredBgp,
): void {
  const spec = r.pick(doc.spec, "spec", ["nodeSelector", "bgpInstances"]);
  const instances = asArray(spec.bgpInstances);
  instances.forEach((inst, i) => {
    if (!isObject(inst)) return;
    const path = `spec.bgpInstances[${i}]`;
    const instance = r.pick(inst, path, ["name", "localASN", "peers"], {
      localPort: "a local port other than 179 is not supported",
    });
    const instanceName = nameOf(instance.name);
    out.instances.push({
      name: instanceName,
      spec: {
        nodeSelector: (spec.nodeSelector as Json) ?? {},
        localASN: instance.localASN as Json,
        // The cluster config's own name, labels and the instance's place in it, for the export.
        ciliumSource: {
          name: doc.name,
          ...(instances.length > 1 ? { part: i } : {}),
          ...(Object.keys(doc.labels).length > 0 ? { labels: doc.labels } : {}),
        },
      },
      doc,
      at: { name: `${path}.name`, spec: path },
    });
    asArray(instance.peers).forEach((p, j) => {
      if (!isObject(p)) return;
      const peerPath = `${path}.peers[${j}]`;
      const peer = r.pick(p, peerPath, ["name", "peerAddress", "peerASN", "peerConfigRef"], {
        autoDiscovery: "peer auto-discovery is not supported; give peerAddress",
      });
      const peerName = nameOf(peer.name);
      const configName = isObject(peer.peerConfigRef) ? String(peer.peerConfigRef.name) : undefined;
      const config = configName ? peerConfigs.get(configName) : undefined;
      if (config) config.used = true;
      // A peer config imported before: its settings are on the stored peers it was bound to (those
      // that keep its advertisement selectors; without them, whether it ever came is unknown: reported).
      const bound = (sp: StoredBgp["peers"][number]) =>
        sp.spec.ciliumPeerConfig === configName && sp.spec.ciliumAdvertisementSelectors !== undefined;
      const boundBefore =
        configName && !config
          ? (stored.peers.find((sp) => sp.name === peerName && bound(sp)) ?? stored.peers.find(bound))
          : undefined;
      const settingsBefore = boundBefore
        ? Object.fromEntries(Object.entries(boundBefore.spec).filter(([k]) => PEER_CONFIG_FIELDS.includes(k)))
        : undefined;
      if (configName && !config && !settingsBefore) {
        r.report(
          `${peerPath}.peerConfigRef`,
          `CiliumBGPPeerConfig "${configName}" is not in this import, so this peer gets Meridian's default timers, graceful restart and families and no advertisements; import the peer config in the same import to keep them`,
          "differs",
        );
      }
      const labels = parseLabelsAnnotation(config?.doc.annotations[PEER_LABELS_ANNOTATION]);
      out.peers.push({
        name: peerName,
        spec: {
          instance: instanceName,
          address: peer.peerAddress as Json,
          peerASN: peer.peerASN as Json,
          ...settingsBefore,
          ...config?.settings,
          ...(labels ? { labels } : {}),
          // The peerConfigRef name, kept even when that config is not in this import, so that an
          // export writes the peer's config under the name the cluster config refers to.
          ...(configName ? { ciliumPeerConfig: configName } : {}),
        },
        doc,
        at: { name: `${peerPath}.name`, spec: peerPath },
        ...(config ? { from: config.doc } : {}),
      });
      peerAdSelectors.set(
        peerName,
        config?.adSelectors ??
          (settingsBefore?.ciliumAdvertisementSelectors as FamilySelector[] | undefined) ??
          [],
      );
    });
  });
}

function parseLabelsAnnotation(value: Json | undefined): JsonObject | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const parsed = JSON.parse(value) as Json;
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function importAdvertisement(
  doc: CiliumDoc,
  r: Reporter,
  peersFor: (labels: Labels, path: string) => string[],
  out: BgpImportOutput,
) {
  const spec = r.pick(doc.spec, "spec", ["advertisements"]);
  const entries = asArray(spec.advertisements);
  entries.forEach((entry, i) => {
    if (!isObject(entry)) return;
    const path = `spec.advertisements[${i}]`;
    const ad = r.pick(entry, path, ["advertisementType", "service", "selector", "attributes"]);
    const type = String(ad.advertisementType);
    const name = entries.length === 1 ? doc.name : `${doc.name}-${i}`;
    const result: JsonObject = {};
    if (type === "PodCIDR") result.type = "PodCIDR";
    else if (type === "Service") {
      const service = isObject(ad.service) ? r.pick(ad.service, `${path}.service`, ["addresses"]) : {};
      result.type = "Service";
      // Without a selector Cilium advertises no service; Meridian keeps the selector absent, meaning the same.
      result.service = {
        ...(ad.selector !== undefined ? { selector: ad.selector as Json } : {}),
        addresses: (service.addresses as Json) ?? [],
        aggregate: doc.annotations[AGGREGATE_ANNOTATION] === "true",
      };
    } else {
      r.report(
        `${path}.advertisementType`,
        `advertisement type ${type} is not supported; use PodCIDR or Service`,
      );
      return;
    }
    if (type !== "Service" && ad.selector !== undefined)
      r.report(`${path}.selector`, "a selector only applies to Service advertisements");
    if (isObject(ad.attributes)) {
      const attrs = r.pick(ad.attributes, `${path}.attributes`, ["communities", "localPreference"]);
      if (attrs.localPreference !== undefined) result.localPreference = attrs.localPreference;
      if (isObject(attrs.communities)) {
        const c = r.pick(attrs.communities, `${path}.attributes.communities`, [
          "standard",
          "wellKnown",
          "large",
        ]);
        const wellKnown = asArray(c.wellKnown).filter((w, k) => {
          const ok = WELL_KNOWN.includes(String(w));
          if (!ok)
            r.report(
              `${path}.attributes.communities.wellKnown[${k}]`,
              `well-known community ${String(w)} is not known`,
            );
          return ok;
        });
        result.communities = [...asArray(c.standard), ...wellKnown];
        result.largeCommunities = asArray(c.large);
      }
    }
    result.peers = peersFor(doc.labels, path);
    // The document's own labels, without the one a Meridian export adds for its peer configs.
    const { [ADVERTISEMENT_LABEL]: _ours, ...labels } = doc.labels;
    result.ciliumSource = {
      name: doc.name,
      ...(entries.length > 1 ? { part: i } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
    };
    out.advertisements.push({ name, spec: result, doc, at: { name: "metadata.name", spec: path } });
  });
}

/**
 * Imports the BGP documents of one import together, since peers, peer configs and advertisements
 * refer to each other; a document whose referrers are stored rather than in this import binds to them.
 */
export function importBgpDocs(
  docs: CiliumDoc[],
  reporters: Map<CiliumDoc, Reporter>,
  stored: StoredBgp = { peers: [], advertisements: [] },
): BgpImportOutput {
  const out: BgpImportOutput = { instances: [], peers: [], advertisements: [], unbound: [] };
  const reporter = (doc: CiliumDoc) => reporters.get(doc) ?? new Reporter(doc.object);
  const peerConfigs = new Map<string, PeerConfig>();
  for (const doc of docs.filter((d) => d.kind === "CiliumBGPPeerConfig")) {
    peerConfigs.set(doc.name, importPeerConfig(doc, reporter(doc)));
  }
  const peerAdSelectors = new Map<string, FamilySelector[]>();
  for (const doc of docs.filter((d) => d.kind === "CiliumBGPClusterConfig")) {
    importClusterConfig(doc, peerConfigs, reporter(doc), out, peerAdSelectors, stored);
  }
  const inImport = new Set(out.peers.map((p) => p.name));
  for (const config of peerConfigs.values()) {
    if (config.used) continue;
    // Stored peers whose cluster config referred to this peer config, imported earlier.
    const referrers = stored.peers.filter(
      (sp) => sp.spec.ciliumPeerConfig === config.doc.name && !inImport.has(sp.name),
    );
    if (referrers.length === 0) out.unbound.push(config.doc);
    const labels = parseLabelsAnnotation(config.doc.annotations[PEER_LABELS_ANNOTATION]);
    for (const sp of referrers) {
      out.peers.push({
        name: sp.name,
        spec: { ...withoutConfigFields(sp.spec), ...config.settings, ...(labels ? { labels } : {}) },
        doc: config.doc,
        at: { name: "metadata.name", spec: "spec" },
        from: config.doc,
        bound: true,
      });
      peerAdSelectors.set(sp.name, config.adSelectors);
      inImport.add(sp.name);
    }
  }
  // Stored peers bound to a peer config earlier select advertisements imported now, unless this
  // import replaces them.
  for (const sp of stored.peers) {
    if (inImport.has(sp.name) || !Array.isArray(sp.spec.ciliumAdvertisementSelectors)) continue;
    peerAdSelectors.set(sp.name, sp.spec.ciliumAdvertisementSelectors as unknown as FamilySelector[]);
  }
  const sortedSelectors = [...peerAdSelectors].sort(([a], [b]) => a.localeCompare(b));
  /** The peers whose config selects these labels; a partial selection (some families only) is reported. */
  const selectingPeers = (labels: Labels, r: Reporter, path: string, only?: Set<string>) => {
    const peers: string[] = [];
    for (const [name, families] of sortedSelectors) {
      if (only && !only.has(name)) continue;
      const selecting = families.filter((f) => f.selector && selectorMatches(f.selector, labels));
      if (selecting.length === 0) continue;
      peers.push(name);
      // Cilium sends an advertisement only on the families whose selector picks it; Meridian on all of a peer's.
      if (selecting.length < families.length)
        r.report(
          path,
          `peer ${name} selects this advertisement only for ${selecting.map((f) => f.family).join(", ")}; Meridian would also send its ${families
            .filter((f) => !selecting.includes(f))
            .map((f) => f.family)
            .join(", ")} prefixes to that peer`,
          "differs",
        );
    }
    return peers;
  };
  const adDocs = docs.filter((d) => d.kind === "CiliumBGPAdvertisement");
  for (const doc of adDocs) {
    const r = reporter(doc);
    const peersFor = (labels: Labels, path: string) => {
      const peers = selectingPeers(labels, r, path);
      if (peers.length === 0)
        r.report(
          path,
          "no CiliumBGPPeerConfig, in this import or imported before, selects this advertisement's labels, so it goes to no peer (as in Cilium until a peer config selects it)",
        );
      return peers;
    };
    importAdvertisement(doc, r, peersFor, out);
  }
  bindStoredAdvertisements(stored, out, new Set(adDocs.map((d) => d.name)), selectingPeers, reporter);
  return out;
}

/**
 * Stored advertisements that peers of this import now select: each gets those peers added, as if
 * its CiliumBGPAdvertisement had been imported with them.
 */
function bindStoredAdvertisements(
  stored: StoredBgp,
  out: BgpImportOutput,
  importedDocs: Set<string>,
  selectingPeers: (labels: Labels, r: Reporter, path: string, only?: Set<string>) => string[],
  reporter: (doc: CiliumDoc) => Reporter,
): void {
  const newPeers = new Map(out.peers.map((p) => [p.name, p]));
  if (newPeers.size === 0) return;
  for (const ad of stored.advertisements) {
    const source = isObject(ad.spec.ciliumSource) ? ad.spec.ciliumSource : undefined;
    if (!source || importedDocs.has(String(source.name))) continue;
    // The labels its document had, with the one a Meridian export adds for its peer configs.
    const labels = {
      ...(isObject(source.labels) ? (source.labels as Labels) : {}),
      [ADVERTISEMENT_LABEL]: String(source.name),
    };
    const binder = [...newPeers.values()][0]!;
    const selecting = selectingPeers(labels, reporter(binder.doc), binder.at.spec, new Set(newPeers.keys()));
    const before = asArray(ad.spec.peers).map(String);
    // Peers of this import that no longer select it are unbound, as re-importing the document would.
    const kept = before.filter((p) => !newPeers.has(p));
    const peers = [...new Set([...kept, ...selecting])].sort((a, b) => a.localeCompare(b));
    if (peers.join() === before.join()) continue;
    const doc = selecting.length > 0 ? newPeers.get(selecting[0]!)!.doc : binder.doc;
    out.advertisements.push({
      name: ad.name,
      spec: { ...ad.spec, peers },
      doc,
      at: { name: "metadata.name", spec: "spec" },
      bound: true,
    });
  }
}
