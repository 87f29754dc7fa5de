// Meridian settings that Cilium's CRDs have no field for travel as annotations, so an export
// imports back unchanged and Cilium itself ignores them.
export const ANNOTATION_PREFIX = "meridian.io/";
export const ENABLED_ANNOTATION = "meridian.io/enabled";
export const EGRESS_HA_ANNOTATION = "meridian.io/egress-ha";
export const ADVERTISE_EGRESS_IP_ANNOTATION = "meridian.io/advertise-egress-ip";
export const ADVERTISEMENT_LABEL = "meridian.io/advertisement";
export const PEER_LABELS_ANNOTATION = "meridian.io/peer-labels";
export const AGGREGATE_ANNOTATION = "meridian.io/aggregate";
