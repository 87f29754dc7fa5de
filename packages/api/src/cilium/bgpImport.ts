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
}

export interface BgpImportOutput {
  instances: BgpImported[];
  peers: BgpImported[];
  advertisements: BgpImported[];
  /** Peer configs no cluster config of the import refers to: Meridian keeps settings on the peer. */
  unbound: CiliumDoc[];
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
      if (configName && !config) {
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
      peerAdSelectors.set(peerName, config?.adSelectors ?? []);
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

/** Imports all BGP documents together, since peers, peer configs and advertisements refer to each other. */
export function importBgpDocs(docs: CiliumDoc[], reporters: Map<CiliumDoc, Reporter>): BgpImportOutput {
  const out: BgpImportOutput = { instances: [], peers: [], advertisements: [], unbound: [] };
  const reporter = (doc: CiliumDoc) => reporters.get(doc) ?? new Reporter(doc.object);
  const peerConfigs = new Map<string, PeerConfig>();
  for (const doc of docs.filter((d) => d.kind === "CiliumBGPPeerConfig")) {
    peerConfigs.set(doc.name, importPeerConfig(doc, reporter(doc)));
  }
  const peerAdSelectors = new Map<string, FamilySelector[]>();
  for (const doc of docs.filter((d) => d.kind === "CiliumBGPClusterConfig")) {
    importClusterConfig(doc, peerConfigs, reporter(doc), out, peerAdSelectors);
  }
  for (const config of peerConfigs.values()) {
    if (!config.used) out.unbound.push(config.doc);
  }
  for (const doc of docs.filter((d) => d.kind === "CiliumBGPAdvertisement")) {
    const r = reporter(doc);
    const peersFor = (labels: Labels, path: string) => {
      const peers: string[] = [];
      for (const [name, families] of [...peerAdSelectors].sort(([a], [b]) => a.localeCompare(b))) {
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
      if (peers.length === 0)
        r.report(
          path,
          "no CiliumBGPPeerConfig in this import selects this advertisement's labels, so it goes to no peer (as in Cilium until a peer config selects it); peers imported earlier are not bound to it: add them to its peers",
        );
      return peers;
    };
    importAdvertisement(doc, r, peersFor, out);
  }
  return out;
}
