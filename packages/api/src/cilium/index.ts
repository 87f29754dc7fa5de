// Cilium YAML import and export.

export type { StoredBgp } from "./bgpImport";
export { type ExportableObject, type ExportResult, exportCiliumYaml } from "./export";
export { importCiliumYaml, importCiliumYamlSteps } from "./import";
export * from "./types";
