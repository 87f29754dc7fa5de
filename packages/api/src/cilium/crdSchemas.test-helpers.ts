// Cilium's CRD OpenAPI schemas (1.18.2, as JSON Schema; corpus/SOURCES.md says where from) and a
// check that a manifest is one Cilium's API server accepts. The schemas forbid unknown fields, as
// kubectl's strict field validation does.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv, type ValidateFunction } from "ajv";

const SCHEMA_FILES: Record<string, string> = {
  CiliumNetworkPolicy: "ciliumnetworkpolicy_v2.json",
  CiliumClusterwideNetworkPolicy: "ciliumclusterwidenetworkpolicy_v2.json",
  CiliumEgressGatewayPolicy: "ciliumegressgatewaypolicy_v2.json",
  CiliumBGPClusterConfig: "ciliumbgpclusterconfig_v2.json",
  CiliumBGPPeerConfig: "ciliumbgppeerconfig_v2.json",
  CiliumBGPAdvertisement: "ciliumbgpadvertisement_v2.json",
};

// Kubernetes' OpenAPI formats (int32, int64…) are ranges ajv does not know; `strict: false` lets
// them pass as annotations, the way the API server treats most of them.
// Patterns are Go (RE2) regular expressions: `\\PC` is `\\P{C}` in JavaScript.
const goRegExp = (pattern: string, flags: string) =>
  new RegExp(pattern.replace(/\\([pP])([A-Za-z])/g, "\\$1{$2}"), flags.includes("u") ? flags : `${flags}u`);
const ajv = new Ajv({ allErrors: true, strict: false, code: { regExp: goRegExp as never } });
const validators = new Map<string, ValidateFunction>();

function validatorFor(kind: string): ValidateFunction | undefined {
  const file = SCHEMA_FILES[kind];
  if (!file) return undefined;
  let validate = validators.get(kind);
  if (!validate) {
    const schema = JSON.parse(
      readFileSync(path.join(import.meta.dirname, "corpus", "crd-schemas", file), "utf8"),
    );
    validate = ajv.compile(schema);
    validators.set(kind, validate);
  }
  return validate;
}

/** The problems Cilium's CRD schema finds in a manifest, as `path: message`; [] when it accepts it. */
export function crdProblems(manifest: { kind?: unknown }): string[] {
  const validate = validatorFor(String(manifest.kind));
  if (!validate) return [`no CRD schema for kind ${String(manifest.kind)}`];
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map(
    (e) =>
      `${e.instancePath || "/"}: ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`,
  );
}
