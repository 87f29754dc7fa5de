// importCiliumYaml: multi-document Cilium YAML → validated Meridian specs, plus a list of every
// field left behind and every document that could not be read. Three passes: read the documents
// (readYaml.ts, with its limits), map them to Meridian objects and count those, then check each
// object's spec; each pass yields between units of work so a caller can let other work run.

import {
  bgpAdvertisementSpecSchema,
  bgpInstanceSpecSchema,
  bgpPeerSpecSchema,
  egressGatewayPolicySpecSchema,
  formatFieldPath,
  networkPolicySpecSchema,
} from "@meridian/model";
import type { z } from "zod";
import { ANNOTATION_PREFIX, ENABLED_ANNOTATION, VERSION_ANNOTATION } from "./annotations";
import { type BgpImported, type CiliumDoc, importBgpDocs, type StoredBgp } from "./bgpImport";
import { importEgressSpec } from "./egressImport";
import { MAX_IMPORT_OBJECTS } from "./limits";
import { HOST_POLICY_REFUSAL, importPolicySpec } from "./policyImport";
import { readYamlDocuments } from "./readYaml";
import {
  CILIUM_KINDS,
  type CiliumKind,
  type ImportError,
  type ImportedObject,
  type ImportOptions,
  type ImportResult,
  type MeridianKind,
  type SkippedDocument,
  type UnsupportedField,
} from "./types";
import { isObject, type Json, type JsonObject, Reporter } from "./walk";

const API_VERSIONS = ["cilium.io/v2", "cilium.io/v2alpha1"];

/** Why a document of another kind is left out, in one line. */
function skipReason(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith("cilium.io/"))
    return `${kind} is not imported: Meridian has no such object; rules that refer to it are reported where they do`;
  return `${kind} (${apiVersion}) is not a Cilium object; left out of the import`;
}

function readDocument(
  raw: unknown,
  index: number,
  errors: ImportError[],
  skipped: SkippedDocument[],
): DocWithExtras | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (!isObject(raw)) {
    errors.push({ document: index, field: "", message: "document is not a YAML mapping" });
    return undefined;
  }
  const supportedKind = (CILIUM_KINDS as readonly Json[]).includes(raw.kind ?? null);
  // Other kinds beside the policies (Deployments, Services, CiliumCIDRGroups…) are skipped, one line each.
  if (!supportedKind && typeof raw.kind === "string" && typeof raw.apiVersion === "string") {
    const name =
      isObject(raw.metadata) && typeof raw.metadata.name === "string" ? raw.metadata.name : undefined;
    skipped.push({
      document: index,
      kind: raw.kind,
      ...(name ? { name } : {}),
      reason: skipReason(raw.apiVersion, raw.kind),
    });
    return undefined;
  }
  if (typeof raw.apiVersion !== "string" || !API_VERSIONS.includes(raw.apiVersion)) {
    errors.push({
      document: index,
      field: "apiVersion",
      message: `apiVersion ${JSON.stringify(raw.apiVersion)} is not one of ${API_VERSIONS.join(", ")}`,
    });
    return undefined;
  }
  if (!supportedKind) {
    errors.push({
      document: index,
      field: "kind",
      message: `kind ${JSON.stringify(raw.kind)} is not one of ${CILIUM_KINDS.join(", ")}`,
    });
    return undefined;
  }
  const metadata = isObject(raw.metadata) ? raw.metadata : {};
  if (typeof metadata.name !== "string" || metadata.name.length === 0) {
    errors.push({ document: index, field: "metadata.name", message: "metadata.name is required" });
    return undefined;
  }
  if (
    metadata.namespace !== undefined &&
    metadata.namespace !== null &&
    typeof metadata.namespace !== "string"
  ) {
    errors.push({ document: index, field: "metadata.namespace", message: "metadata.namespace must be text" });
    return undefined;
  }
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  const kind = raw.kind as CiliumKind;
  const version = isObject(metadata.annotations) ? metadata.annotations[VERSION_ANNOTATION] : undefined;
  if (version !== undefined && !/^[1-9][0-9]{0,9}$/.test(String(version))) {
    errors.push({
      document: index,
      field: `metadata.annotations.${VERSION_ANNOTATION}`,
      message: `${JSON.stringify(version)} is not a version: a whole number from 1 (the object's version when it was exported), or leave the annotation out`,
    });
    return undefined;
  }
  return {
    notes: ignoredMetadata(raw, metadata, kind),
    index,
    kind,
    name: metadata.name,
    labels: (isObject(metadata.labels) ? metadata.labels : {}) as Record<string, string>,
    annotations: isObject(metadata.annotations) ? metadata.annotations : {},
    spec: isObject(raw.spec) ? raw.spec : {},
    object: `${kind}/${namespace ? `${namespace}/` : ""}${metadata.name}`,
    ...(raw.specs !== undefined ? { specs: raw.specs } : {}),
    ...(namespace ? { namespace } : {}),
  } as DocWithExtras;
}

type DocWithExtras = CiliumDoc & {
  namespace?: string;
  specs?: Json;
  notes: { field: string; reason: string }[];
};

const TOP_LEVEL = ["apiVersion", "kind", "metadata", "spec", "specs", "status"];
const HARMLESS_ANNOTATIONS = ["kubectl.kubernetes.io/last-applied-configuration"];

/** Metadata and top-level fields that are not carried into Meridian, to be reported by name. */
function ignoredMetadata(
  raw: JsonObject,
  metadata: JsonObject,
  kind: CiliumKind,
): { field: string; reason: string }[] {
  const notes = Object.keys(raw)
    .filter((key) => !TOP_LEVEL.includes(key))
    .map((key) => ({ field: key, reason: `${key} is not part of a Cilium object and is ignored` }));
  // BGP advertisement labels are how peers select advertisements; they are used, not dropped. A
  // policy keeps its labels for the export (spec.ciliumSource).
  const keepsLabels = ["CiliumBGPAdvertisement", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"];
  if (!keepsLabels.includes(kind) && isObject(metadata.labels)) {
    for (const key of Object.keys(metadata.labels)) {
      notes.push({ field: `metadata.labels.${key}`, reason: "object labels are not kept in Meridian" });
    }
  }
  if (isObject(metadata.annotations)) {
    for (const key of Object.keys(metadata.annotations)) {
      if (key.startsWith(ANNOTATION_PREFIX) || HARMLESS_ANNOTATIONS.includes(key)) continue;
      notes.push({ field: `metadata.annotations.${key}`, reason: "annotations are not kept in Meridian" });
    }
  }
  return notes;
}

/** A mapped object whose spec is not checked yet. */
interface Candidate {
  kind: MeridianKind;
  name: string;
  namespace: string | null;
  input: JsonObject;
  doc: CiliumDoc;
  /** Path of the spec inside the document, for errors. */
  specPath: string;
  nameField: string;
  namespaceField?: string;
  source: CiliumKind;
  version: { version?: number };
  /** For a peer: the CiliumBGPPeerConfig document its settings came from. */
  peerConfigDocument?: number;
}

const SPEC_SCHEMAS: Record<MeridianKind, z.ZodType> = {
  NetworkPolicy: networkPolicySpecSchema,
  EgressGatewayPolicy: egressGatewayPolicySpecSchema,
  BgpInstance: bgpInstanceSpecSchema,
  BgpPeer: bgpPeerSpecSchema,
  BgpAdvertisement: bgpAdvertisementSpecSchema,
};

/**
 * The `meridian.io/version` a document carries, for the one object made from it. A document that
 * makes several objects (several `specs`) cannot say which one it was: that is reported, not guessed.
 */
function versionOf(doc: CiliumDoc, objects: number, r?: Reporter): { version?: number } {
  const raw = doc.annotations[VERSION_ANNOTATION];
  if (raw === undefined) return {};
  if (objects !== 1) {
    const field = `metadata.annotations.${VERSION_ANNOTATION}`;
    if (r && !r.unsupported.some((u) => u.field === field))
      r.report(
        field,
        `this document makes ${objects} objects, so its version cannot be checked; they are imported without a version check`,
      );
    return {};
  }
  return { version: Number(raw) };
}

function policyCandidates(doc: DocWithExtras, r: Reporter, errors: ImportError[]): Candidate[] {
  const clusterwide = doc.kind === "CiliumClusterwideNetworkPolicy";
  const namespace = clusterwide ? null : (doc.namespace ?? "default");
  if (clusterwide && doc.namespace)
    r.report("metadata.namespace", "clusterwide policies have no namespace; ignored");
  const specs: { spec: JsonObject; path: string }[] = [];
  if (Object.keys(doc.spec).length > 0) specs.push({ spec: doc.spec, path: "spec" });
  if (Array.isArray(doc.specs)) {
    doc.specs.forEach((s, i) => {
      if (isObject(s)) specs.push({ spec: s, path: `specs[${i}]` });
    });
  }
  if (specs.length === 0)
    errors.push({ document: doc.index, field: "spec", message: "the policy has no spec" });
  const version = versionOf(doc, specs.length, r);
  const named = specs.map((s, i) => ({ ...s, i }));
  return named.flatMap(({ spec, path, i }) => {
    if (spec.nodeSelector !== undefined) {
      errors.push({ document: doc.index, field: `${path}.nodeSelector`, message: HOST_POLICY_REFUSAL });
      return [];
    }
    const input = importPolicySpec(spec, path, r);
    if (doc.annotations[ENABLED_ANNOTATION] === "false") input.enabled = false;
    // Kept so that an export writes the document back under its own name, labels and grouping.
    const hasLabels = Object.keys(doc.labels).length > 0;
    if (specs.length > 1 || hasLabels) {
      const source: JsonObject = { name: doc.name };
      if (specs.length > 1) source.part = i;
      if (hasLabels) source.labels = doc.labels;
      input.ciliumSource = source;
    }
    return {
      kind: "NetworkPolicy",
      name: specs.length === 1 ? doc.name : `${doc.name}-${i}`,
      namespace,
      input,
      doc,
      specPath: path,
      nameField: "metadata.name",
      ...(namespace && doc.namespace ? { namespaceField: "metadata.namespace" } : {}),
      source: doc.kind as CiliumKind,
      version,
    } satisfies Candidate;
  });
}

function egressCandidate(doc: CiliumDoc, r: Reporter): Candidate {
  return {
    kind: "EgressGatewayPolicy",
    name: doc.name,
    namespace: null,
    input: importEgressSpec(doc.spec, doc.annotations, "spec", r),
    doc,
    specPath: "spec",
    nameField: "metadata.name",
    source: "CiliumEgressGatewayPolicy",
    version: versionOf(doc, 1),
  };
}

function bgpCandidates(
  docs: CiliumDoc[],
  reporters: Map<CiliumDoc, Reporter>,
  skipped: SkippedDocument[],
  errors: ImportError[],
  stored: StoredBgp | undefined,
): Candidate[] {
  const bgp = importBgpDocs(
    docs.filter((d) => d.kind.startsWith("CiliumBGP")),
    reporters,
    stored,
  );
  // An advertisement document of which no entry could be imported would vanish with only its
  // entries' types reported: refused as a whole, by name.
  for (const doc of docs.filter((d) => d.kind === "CiliumBGPAdvertisement")) {
    if (bgp.advertisements.some((a) => a.doc === doc)) continue;
    errors.push({
      document: doc.index,
      field: "spec.advertisements",
      message: `CiliumBGPAdvertisement ${doc.name} not imported: none of its advertisements is of a type Meridian supports (PodCIDR, Service), so nothing it advertises would be advertised`,
    });
  }
  for (const doc of bgp.unbound)
    skipped.push({
      document: doc.index,
      kind: doc.kind,
      name: doc.name,
      reason:
        "neither a CiliumBGPClusterConfig in this import nor a stored peer refers to it (peerConfigRef), and Meridian keeps a peer's timers, graceful restart and families on the peer, so it is not kept: import it with or after the cluster config that refers to it",
    });
  // A document's version belongs to the one object made from it: the instance of a cluster config
  // with one instance, the peer named like its peer config (as Meridian exports them), an
  // advertisement document with one advertisement.
  const madeFrom = (doc: CiliumDoc, list: { doc: CiliumDoc }[]) => list.filter((x) => x.doc === doc).length;
  const peerConfigOf = (name: string) =>
    docs.find((d) => d.kind === "CiliumBGPPeerConfig" && d.name === name);
  const candidate = (kind: MeridianKind, x: BgpImported, version: { version?: number }): Candidate => ({
    kind,
    name: x.name,
    namespace: null,
    input: x.spec,
    doc: x.doc,
    specPath: x.at.spec,
    nameField: x.at.name,
    source: x.doc.kind as CiliumKind,
    version,
  });
  return [
    ...bgp.instances.map((inst) =>
      candidate(
        "BgpInstance",
        inst,
        versionOf(inst.doc, madeFrom(inst.doc, bgp.instances), reporters.get(inst.doc)),
      ),
    ),
    ...bgp.peers.map((peer) => {
      const config = peerConfigOf(peer.name);
      return {
        ...candidate("BgpPeer", peer, config && !peer.bound ? versionOf(config, 1) : {}),
        ...(peer.from ? { peerConfigDocument: peer.from.index } : {}),
      };
    }),
    ...bgp.advertisements.map((ad) =>
      candidate(
        "BgpAdvertisement",
        ad,
        ad.bound
          ? {}
          : versionOf(
              ad.doc,
              madeFrom(
                ad.doc,
                bgp.advertisements.filter((a) => !a.bound),
              ),
              reporters.get(ad.doc),
            ),
      ),
    ),
  ];
}

function checked(c: Candidate, errors: ImportError[]): ImportedObject | undefined {
  const result = SPEC_SCHEMAS[c.kind].safeParse(c.input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const field = formatFieldPath(issue.path);
      errors.push({
        document: c.doc.index,
        field: field ? `${c.specPath}.${field}` : c.specPath,
        message: issue.message,
      });
    }
    return undefined;
  }
  return {
    kind: c.kind,
    name: c.name,
    namespace: c.namespace,
    spec: result.data,
    source: c.source,
    ...c.version,
    origin: {
      document: c.doc.index,
      ...(c.peerConfigDocument !== undefined ? { peerConfigDocument: c.peerConfigDocument } : {}),
      name: c.nameField,
      ...(c.namespaceField ? { namespace: c.namespaceField } : {}),
      spec: c.specPath,
    },
  } as ImportedObject;
}

/**
 * The import as a generator that yields between documents and between objects, returning the
 * result: `importCiliumYaml` runs it straight through, a server in slices (cilium-io).
 */
export function* importCiliumYamlSteps(
  text: string,
  options: ImportOptions = {},
): Generator<void, ImportResult> {
  const errors: ImportError[] = [];
  const skipped: SkippedDocument[] = [];
  const docs: DocWithExtras[] = [];
  const reading = readYamlDocuments(text);
  for (let step = reading.next(); ; step = reading.next()) {
    if (step.done) {
      const stop = step.value;
      if (stop?.kind === "documents")
        return tooLarge(`more than ${MAX_IMPORT_OBJECTS.toLocaleString("en")} documents`, stop.count);
      if (stop) errors.push({ document: stop.index, field: stop.field, message: stop.message });
      break;
    }
    const read = step.value;
    if (read === null) {
      yield;
      continue;
    }
    if ("problem" in read) errors.push({ document: read.index, ...read.problem });
    else {
      const doc = readDocument(read.value, read.index, errors, skipped);
      if (doc) docs.push(doc);
    }
    yield;
  }
  const reporters = new Map(docs.map((d) => [d as CiliumDoc, new Reporter(d.object)]));
  for (const doc of docs) for (const note of doc.notes) reporters.get(doc)!.report(note.field, note.reason);
  const candidates: Candidate[] = [];
  for (const doc of docs) {
    const r = reporters.get(doc)!;
    if (doc.kind === "CiliumNetworkPolicy" || doc.kind === "CiliumClusterwideNetworkPolicy") {
      candidates.push(...policyCandidates(doc, r, errors));
    } else if (doc.kind === "CiliumEgressGatewayPolicy") {
      candidates.push(egressCandidate(doc, r));
    }
  }
  candidates.push(...bgpCandidates(docs, reporters, skipped, errors, options.stored));
  // Counted before any spec is checked: checking is most of the work.
  if (candidates.length > MAX_IMPORT_OBJECTS)
    return tooLarge(`${candidates.length.toLocaleString("en")} objects`, candidates.length);
  const made: (ImportedObject | undefined)[] = [];
  for (const c of candidates) {
    const report = reporters.get(c.doc)!.unsupported.filter((u) => concerns(c, u.field));
    made.push(refused(c, report, options, errors) ? undefined : checked(c, errors));
    yield;
  }
  // Cilium enforces the parts of a `specs` document together: one part alone may deny what another
  // allowed, so a policy document is imported whole or not at all.
  const brokenPolicyDocs = new Set(
    candidates.filter((c, i) => c.kind === "NetworkPolicy" && !made[i]).map((c) => c.doc),
  );
  const objects: ImportedObject[] = [];
  candidates.forEach((c, i) => {
    const obj = made[i];
    if (!obj) return;
    if (c.kind === "NetworkPolicy" && brokenPolicyDocs.has(c.doc)) {
      errors.push({
        document: c.doc.index,
        field: c.specPath,
        message: `${c.kind} ${c.name} not imported: another part of this document is not imported, and Cilium enforces a document's specs together, so this part alone would not mean what the document means`,
      });
      return;
    }
    objects.push(obj);
  });
  return { objects, unsupported: [...reporters.values()].flatMap((r) => r.unsupported), errors, skipped };
}

/** Whether a reported field of the candidate's document belongs to the candidate. */
function concerns(c: Candidate, field: string): boolean {
  if (c.kind === "BgpInstance" && field.startsWith(`${c.specPath}.peers[`)) return false;
  return field === c.specPath || field.startsWith(`${c.specPath}.`) || !/^specs?\b/.test(field);
}

const CHANGE_WORDS = {
  "allows-more": "would allow traffic the original denies",
  "denies-more": "would deny traffic the original allows",
  differs: "would not treat traffic as the original does",
};

/**
 * Refuses an object whose import would not mean what the original means, unless the user has
 * acknowledged the differences; in strict mode, also one with any field left behind.
 */
function refused(
  c: Candidate,
  report: UnsupportedField[],
  options: ImportOptions,
  errors: ImportError[],
): boolean {
  const changes = options.acknowledgeDifferences ? [] : report.filter((u) => u.change);
  for (const u of changes) {
    errors.push({
      document: c.doc.index,
      field: u.field,
      message: `${c.kind} ${c.name} not imported: it ${CHANGE_WORDS[u.change!]} (${u.reason}); import with the differences acknowledged to accept it`,
    });
  }
  const strictly = options.strict ? report.filter((u) => !u.change && !u.field.startsWith("metadata.")) : [];
  for (const u of strictly) {
    errors.push({
      document: c.doc.index,
      field: u.field,
      message: `${c.kind} ${c.name} not imported in strict mode: ${u.reason}`,
    });
  }
  return changes.length > 0 || strictly.length > 0;
}

function tooLarge(what: string, count: number): ImportResult {
  const limit = MAX_IMPORT_OBJECTS;
  return {
    objects: [],
    unsupported: [],
    errors: [],
    skipped: [],
    tooLarge: {
      count,
      limit,
      message: `the YAML holds ${what}; one import carries at most ${limit.toLocaleString("en")} objects: split it into several imports`,
    },
  };
}

export function importCiliumYaml(text: string, options: ImportOptions = {}): ImportResult {
  const steps = importCiliumYamlSteps(text, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
