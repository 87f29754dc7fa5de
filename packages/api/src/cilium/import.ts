// importCiliumYaml: multi-document Cilium YAML → validated Meridian specs, plus a list of every
// field left behind and every document that could not be read.
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import {
  bgpAdvertisementSpecSchema,
  bgpInstanceSpecSchema,
  bgpPeerSpecSchema,
  egressGatewayPolicySpecSchema,
  formatFieldPath,
  networkPolicySpecSchema,
} from "../spec";
import { ANNOTATION_PREFIX, ENABLED_ANNOTATION, VERSION_ANNOTATION } from "./annotations";
import { type BgpImportOutput, type CiliumDoc, importBgpDocs } from "./bgpImport";
import { importEgressSpec } from "./egressImport";
import { importPolicySpec } from "./policyImport";
import {
  CILIUM_KINDS,
  type CiliumKind,
  type ImportError,
  type ImportedObject,
  type ImportResult,
} from "./types";
import { isObject, type Json, type JsonObject, Reporter } from "./walk";

const API_VERSIONS = ["cilium.io/v2", "cilium.io/v2alpha1"];

function readDocument(raw: unknown, index: number, errors: ImportError[]): DocWithExtras | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (!isObject(raw)) {
    errors.push({ document: index, field: "", message: "document is not a YAML mapping" });
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
  if (!(CILIUM_KINDS as readonly Json[]).includes(raw.kind ?? null)) {
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
  // BGP advertisement labels are how peers select advertisements; they are used, not dropped.
  if (kind !== "CiliumBGPAdvertisement" && isObject(metadata.labels)) {
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

function validate<S extends z.ZodType>(
  schema: S,
  value: JsonObject,
  doc: CiliumDoc,
  prefix: string,
  errors: ImportError[],
): z.output<S> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const field = formatFieldPath(issue.path);
    errors.push({
      document: doc.index,
      field: field ? `${prefix}.${field}` : prefix,
      message: issue.message,
    });
  }
  return undefined;
}

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

function importNetworkPolicy(doc: DocWithExtras, r: Reporter, errors: ImportError[]): ImportedObject[] {
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
  const out: ImportedObject[] = [];
  for (const [i, { spec, path }] of specs.entries()) {
    const input = importPolicySpec(spec, path, r);
    if (doc.annotations[ENABLED_ANNOTATION] === "false") input.enabled = false;
    const parsed = validate(networkPolicySpecSchema, input, doc, path, errors);
    const name = specs.length === 1 ? doc.name : `${doc.name}-${i}`;
    if (parsed)
      out.push({
        kind: "NetworkPolicy",
        name,
        namespace,
        spec: parsed,
        source: doc.kind as CiliumKind,
        ...versionOf(doc, specs.length, r),
      });
  }
  return out;
}

function importEgress(doc: CiliumDoc, r: Reporter, errors: ImportError[]): ImportedObject[] {
  const parsed = validate(
    egressGatewayPolicySpecSchema,
    importEgressSpec(doc.spec, doc.annotations, "spec", r),
    doc,
    "spec",
    errors,
  );
  return parsed
    ? [
        {
          kind: "EgressGatewayPolicy",
          name: doc.name,
          namespace: null,
          spec: parsed,
          source: "CiliumEgressGatewayPolicy",
          ...versionOf(doc, 1),
        },
      ]
    : [];
}

function collectBgp(
  bgp: BgpImportOutput,
  docs: CiliumDoc[],
  reporters: Map<CiliumDoc, Reporter>,
  errors: ImportError[],
): ImportedObject[] {
  const out: ImportedObject[] = [];
  // A document's version belongs to the one object made from it: the instance of a cluster config
  // with one instance, the peer named like its peer config (as Meridian exports them), an
  // advertisement document with one advertisement.
  const madeFrom = (doc: CiliumDoc, list: { doc: CiliumDoc }[]) => list.filter((x) => x.doc === doc).length;
  const peerConfigOf = (name: string) =>
    docs.find((d) => d.kind === "CiliumBGPPeerConfig" && d.name === name);
  for (const inst of bgp.instances) {
    const spec = validate(
      bgpInstanceSpecSchema,
      inst.spec,
      inst.doc,
      `spec.bgpInstances[${inst.name}]`,
      errors,
    );
    if (spec)
      out.push({
        kind: "BgpInstance",
        name: inst.name,
        namespace: null,
        spec,
        source: "CiliumBGPClusterConfig",
        ...versionOf(inst.doc, madeFrom(inst.doc, bgp.instances), reporters.get(inst.doc)),
      });
  }
  for (const peer of bgp.peers) {
    const spec = validate(bgpPeerSpecSchema, peer.spec, peer.doc, `peers[${peer.name}]`, errors);
    const config = peerConfigOf(peer.name);
    if (spec)
      out.push({
        kind: "BgpPeer",
        name: peer.name,
        namespace: null,
        spec,
        source: "CiliumBGPClusterConfig",
        ...(config ? versionOf(config, 1) : {}),
      });
  }
  for (const ad of bgp.advertisements) {
    const spec = validate(bgpAdvertisementSpecSchema, ad.spec, ad.doc, "spec.advertisements", errors);
    if (spec)
      out.push({
        kind: "BgpAdvertisement",
        name: ad.name,
        namespace: null,
        spec,
        source: "CiliumBGPAdvertisement",
        ...versionOf(ad.doc, madeFrom(ad.doc, bgp.advertisements), reporters.get(ad.doc)),
      });
  }
  return out;
}

export function importCiliumYaml(text: string): ImportResult {
  const errors: ImportError[] = [];
  const docs: DocWithExtras[] = [];
  parseAllDocuments(text).forEach((yamlDoc, index) => {
    if (yamlDoc.errors.length > 0) {
      errors.push({ document: index, field: "", message: `YAML error: ${yamlDoc.errors[0]!.message}` });
      return;
    }
    const doc = readDocument(yamlDoc.toJS(), index, errors);
    if (doc) docs.push(doc);
  });
  const reporters = new Map(docs.map((d) => [d as CiliumDoc, new Reporter(d.object)]));
  for (const doc of docs) for (const note of doc.notes) reporters.get(doc)!.report(note.field, note.reason);
  const objects: ImportedObject[] = [];
  for (const doc of docs) {
    const r = reporters.get(doc)!;
    if (doc.kind === "CiliumNetworkPolicy" || doc.kind === "CiliumClusterwideNetworkPolicy") {
      objects.push(...importNetworkPolicy(doc, r, errors));
    } else if (doc.kind === "CiliumEgressGatewayPolicy") {
      objects.push(...importEgress(doc, r, errors));
    }
  }
  objects.push(
    ...collectBgp(
      importBgpDocs(
        docs.filter((d) => d.kind.startsWith("CiliumBGP")),
        reporters,
      ),
      docs,
      reporters,
      errors,
    ),
  );
  return { objects, unsupported: [...reporters.values()].flatMap((r) => r.unsupported), errors };
}
