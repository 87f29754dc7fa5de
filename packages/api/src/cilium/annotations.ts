// Meridian settings that Cilium's CRDs have no field for travel as annotations, so an export
// imports back unchanged and Cilium itself ignores them.
export const ANNOTATION_PREFIX = "meridian.io/";
export const ENABLED_ANNOTATION = "meridian.io/enabled";
export const EGRESS_HA_ANNOTATION = "meridian.io/egress-ha";
export const ADVERTISE_EGRESS_IP_ANNOTATION = "meridian.io/advertise-egress-ip";
export const ADVERTISEMENT_LABEL = "meridian.io/advertisement";
export const PEER_LABELS_ANNOTATION = "meridian.io/peer-labels";
export const AGGREGATE_ANNOTATION = "meridian.io/aggregate";
/** A peer's import policy (JSON) and kernel-install flag: Cilium never imports routes from peers. */
export const IMPORT_POLICY_ANNOTATION = "meridian.io/import-policy";
export const INSTALL_ROUTES_ANNOTATION = "meridian.io/install-routes";
/**
 * The object's Meridian version when it was exported. An import that carries it is refused for
 * that object if the object has changed since (optimistic concurrency, as `version` on updates).
 * Not `metadata.resourceVersion`: kubectl exports carry the Kubernetes cluster's own counter
 * there, and a manifest with one cannot be created in a Kubernetes cluster.
 */
export const VERSION_ANNOTATION = "meridian.io/version";
