// What an import returns: Meridian objects, the fields we could not carry over (by JSON path),
// and documents that are broken. Nothing is dropped without being listed.

import type {
  BgpAdvertisementSpec,
  BgpInstanceSpec,
  BgpPeerSpec,
  EgressGatewayPolicySpec,
  NetworkPolicySpec,
} from "@meridian/model";
import type { StoredBgp } from "./bgpImport";

export const CILIUM_KINDS = [
  "CiliumNetworkPolicy",
  "CiliumClusterwideNetworkPolicy",
  "CiliumEgressGatewayPolicy",
  "CiliumBGPClusterConfig",
  "CiliumBGPPeerConfig",
  "CiliumBGPAdvertisement",
] as const;
export type CiliumKind = (typeof CILIUM_KINDS)[number];

/** Where in the YAML an imported object came from, so that an error can point there. */
export interface ObjectOrigin {
  /** Zero-based position of the document in the multi-document YAML. */
  document: number;
  /** A BGP peer's settings come from this CiliumBGPPeerConfig document too (its position). */
  peerConfigDocument?: number;
  /** Paths inside that document, e.g. `metadata.name`, `spec.bgpInstances[0].peers[1].name`. */
  name: string;
  namespace?: string;
  spec: string;
}

/**
 * One Meridian object produced by an import, ready for the matching API create call. `version` is
 * the `meridian.io/version` annotation of a Meridian export: the version the object had then.
 */
export type ImportedObject = { version?: number; origin: ObjectOrigin } & (
  | {
      kind: "NetworkPolicy";
      name: string;
      namespace: string | null;
      spec: NetworkPolicySpec;
      source: CiliumKind;
    }
  | {
      kind: "EgressGatewayPolicy";
      name: string;
      namespace: null;
      spec: EgressGatewayPolicySpec;
      source: CiliumKind;
    }
  | { kind: "BgpInstance"; name: string; namespace: null; spec: BgpInstanceSpec; source: CiliumKind }
  | {
      kind: "BgpPeer";
      name: string;
      namespace: null;
      spec: Omit<BgpPeerSpec, "password">;
      source: CiliumKind;
    }
  | {
      kind: "BgpAdvertisement";
      name: string;
      namespace: null;
      spec: BgpAdvertisementSpec;
      source: CiliumKind;
    }
);

export type MeridianKind = ImportedObject["kind"];

/**
 * What leaving a field behind does to traffic: the import then allows more than the original,
 * denies more, or behaves otherwise differently. An object with such a field is refused unless the
 * import acknowledges the differences.
 */
export type MeaningChange = "allows-more" | "denies-more" | "differs";

export interface UnsupportedField {
  /** `Kind/namespace/name` of the Cilium object. */
  object: string;
  /** JSON path inside the document, e.g. `spec.ingress[0].toPorts[0].rules.http`. */
  field: string;
  reason: string;
  /** Set when the object imported without this field would not mean what the original means. */
  change?: MeaningChange;
}

export interface ImportOptions {
  /** Import objects that would allow or deny other traffic than the original (their fields listed). */
  acknowledgeDifferences?: boolean;
  /** Refuse every object with a field that is not carried over, rather than import it without. */
  strict?: boolean;
  /** The BGP objects already stored, which BGP documents imported on their own bind to. */
  stored?: StoredBgp;
}

/** A document of another kind (a Deployment, a CiliumCIDRGroup…), left out of the import. */
export interface SkippedDocument {
  document: number;
  kind: string;
  name?: string;
  reason: string;
}

export interface ImportError {
  /** Zero-based position of the document in the multi-document YAML. */
  document: number;
  field: string;
  message: string;
}

export interface ImportResult {
  objects: ImportedObject[];
  unsupported: UnsupportedField[];
  errors: ImportError[];
  skipped: SkippedDocument[];
  /** Set when the YAML holds more than an import may carry; nothing else is then reported. */
  tooLarge?: { count: number; limit: number; message: string };
}
