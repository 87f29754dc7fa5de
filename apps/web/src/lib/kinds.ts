// The spec-carrying objects besides network policies: where they live in the API, where they are
// listed, a starting spec for "new", and the fields the form offers (the rest is edited as YAML).
export type KindKey =
  | "egress"
  | "bgp-instances"
  | "bgp-peers"
  | "bgp-advertisements"
  | "srv6-pools"
  | "srv6-vrfs"
  | "srv6-policies";

export type FormField =
  | {
      path: string;
      label: string;
      /** "yaml": a nested object edited as YAML in place (empty: the field is left out). */
      type: "text" | "number" | "password" | "list" | "labels" | "bool" | "yaml";
      hint?: string;
    }
  | { path: string; label: string; type: "select" | "checks"; options: string[]; hint?: string };

export interface KindDef {
  label: string;
  listHref: string;
  /** Router path in the API client, e.g. ["bgp", "peers"]. */
  api: [string] | [string, string];
  hasEnabled: boolean;
  template: Record<string, unknown>;
  fields: FormField[];
}

export const KINDS: Record<KindKey, KindDef> = {
  egress: {
    label: "Egress gateway policy",
    listHref: "/egress",
    api: ["egress"],
    hasEnabled: true,
    template: {
      selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
      destinationCIDRs: ["0.0.0.0/0"],
      gateways: [{ nodeSelector: { matchLabels: { "egress-gateway": "true" } } }],
    },
    fields: [
      { path: "destinationCIDRs", label: "Destination CIDRs", type: "list" },
      { path: "excludedCIDRs", label: "Excluded CIDRs", type: "list" },
      { path: "advertiseEgressIP", label: "Advertise the egress IP over BGP", type: "bool" },
    ],
  },
  "bgp-instances": {
    label: "BGP instance",
    listHref: "/bgp",
    api: ["bgp", "instances"],
    hasEnabled: true,
    template: { nodeSelector: { matchLabels: { "meridian.io/bgp": "enabled" } }, localASN: 64512 },
    fields: [
      {
        path: "nodeSelector.matchLabels",
        label: "Nodes (selector)",
        type: "labels",
        hint: "key=value, key=value",
      },
      { path: "localASN", label: "Local ASN", type: "number" },
      {
        path: "routerID",
        label: "Router ID",
        type: "text",
        hint: "IPv4; defaults to the node's first IPv4 address",
      },
    ],
  },
  "bgp-peers": {
    label: "BGP peer",
    listHref: "/bgp",
    api: ["bgp", "peers"],
    hasEnabled: true,
    template: {
      instance: "",
      address: "",
      peerASN: 65000,
      holdTimeSeconds: 90,
      families: ["ipv4-unicast", "ipv6-unicast"],
    },
    fields: [
      { path: "instance", label: "BGP instance", type: "text" },
      { path: "address", label: "Peer address", type: "text" },
      { path: "peerASN", label: "Peer ASN", type: "number" },
      { path: "port", label: "Port", type: "number", hint: "default 179" },
      { path: "holdTimeSeconds", label: "Hold time (s)", type: "number", hint: "0 or 3..65535" },
      {
        path: "keepaliveSeconds",
        label: "Keepalive (s)",
        type: "number",
        hint: "default: a third of the hold time",
      },
      { path: "ebgpMultihop", label: "eBGP multihop TTL", type: "number", hint: "empty: directly connected" },
      {
        path: "families",
        label: "Address families",
        type: "checks",
        options: ["ipv4-unicast", "ipv6-unicast", "vpnv4", "vpnv6"],
      },
      {
        path: "password",
        label: "TCP MD5 password",
        type: "password",
        hint: "write-only; empty keeps the current one",
      },
      {
        path: "importPolicy",
        label: "Import policy (YAML)",
        type: "yaml",
        hint: "rules: [{ prefix: 10.0.0.0/8, le: 24, action: accept }], default: reject. First match decides; empty: keep everything for the looking glass, install nothing",
      },
      { path: "installRoutes", label: "Install accepted routes into the node's kernel", type: "bool" },
    ],
  },
  "bgp-advertisements": {
    label: "BGP advertisement",
    listHref: "/bgp",
    api: ["bgp", "advertisements"],
    hasEnabled: true,
    template: { type: "PodCIDR", communities: [] },
    fields: [
      {
        path: "type",
        label: "Advertise",
        type: "select",
        options: ["PodCIDR", "Service", "EgressIP", "VRFRoutes"],
      },
      { path: "communities", label: "Communities", type: "list", hint: "e.g. 65000:100, no-export" },
      { path: "localPreference", label: "Local preference", type: "number" },
      { path: "peers", label: "Peers (names)", type: "list", hint: "empty: every peer of the node" },
    ],
  },
  "srv6-pools": {
    label: "SRv6 locator pool",
    listHref: "/srv6",
    api: ["srv6", "locatorPools"],
    hasEnabled: false,
    template: {
      prefix: "fd00:6::/48",
      locatorLength: 64,
      structure: { locatorBlockLength: 48, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
    },
    fields: [
      { path: "prefix", label: "Prefix", type: "text" },
      { path: "locatorLength", label: "Locator length", type: "number" },
    ],
  },
  "srv6-vrfs": {
    label: "SRv6 VRF",
    listHref: "/srv6",
    api: ["srv6", "vrfs"],
    hasEnabled: false,
    template: {
      vrfID: 200,
      locatorPool: "default",
      routeDistinguisher: "64512:200",
      importRouteTargets: ["64512:200"],
      exportRouteTargets: ["64512:200"],
      memberSelector: { matchLabels: { vpn: "red" } },
    },
    fields: [
      { path: "vrfID", label: "VRF ID", type: "number" },
      { path: "locatorPool", label: "Locator pool", type: "text" },
      { path: "routeDistinguisher", label: "Route distinguisher", type: "text" },
      { path: "importRouteTargets", label: "Import route targets", type: "list" },
      { path: "exportRouteTargets", label: "Export route targets", type: "list" },
      { path: "memberSelector.matchLabels", label: "Member pods (selector)", type: "labels" },
    ],
  },
  "srv6-policies": {
    label: "SRv6 static policy",
    listHref: "/srv6",
    api: ["srv6", "policies"],
    hasEnabled: false,
    template: { vrf: "blue", destination: "10.200.0.0/16", segments: ["fd00:5:0:1::100"] },
    fields: [
      { path: "vrf", label: "VRF", type: "text" },
      { path: "destination", label: "Destination prefix", type: "text" },
      { path: "segments", label: "Segment list (SIDs)", type: "list" },
    ],
  },
};

export function isKind(k: string): k is KindKey {
  return Object.hasOwn(KINDS, k);
}
