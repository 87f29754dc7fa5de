// Work that depends only on the snapshot, done once and shared by every node compiled from it.
// Snapshots are treated as immutable: the API builds a new one per revision.
import {
  aggregateCidrs,
  familyBits,
  type LabelSelector,
  type Labels,
  normalizeLabels,
  type ParsedCidr,
  parseCidr,
  parseIp,
  selectorMatchesNormalized,
} from "../spec";
import { endpointLabels } from "./selection";
import type { ClusterSnapshot, SnapshotEndpoint } from "./snapshot";

export interface EndpointAddress {
  endpoint: SnapshotEndpoint;
  family: 4 | 6;
  value: bigint;
  /** Host prefix, e.g. `10.1.1.10/32`. */
  prefix: string;
  /** Length of the (aggregated) PodCIDR prefix holding this address; -1 if none does. */
  podCidrLength: number;
}

export interface SnapshotIndex {
  /** Normalized label sets per endpoint identity, namespace label included. */
  identityLabels: Map<number, Labels>;
  addresses: EndpointAddress[];
  addressesByNode: Map<string, EndpointAddress[]>;
  addressesByIdentity: Map<number, EndpointAddress[]>;
  endpointsByNode: Map<string, SnapshotEndpoint[]>;
  /** Every endpoint: egress named ports resolve against all their declared ports, as in Cilium. */
  allEndpoints: SnapshotEndpoint[];
  /** Normalized labels of each endpoint, namespace label included. */
  endpointLabels: Map<SnapshotEndpoint, Labels>;
  /** Every node's PodCIDRs, aggregated: the same addresses in as few prefixes as possible. */
  podCidrs: ParsedCidr[];
  /** Node name → its addresses as host prefixes. */
  nodeHostPrefixes: Map<string, string[]>;
  /** Every node address, aggregated the same way. */
  nodeAddressPrefixes: string[];
  /** Memo: scoped selector (as JSON) → identities it matches. Nodes share policies, so this pays off. */
  selectorMatches: Map<string, number[]>;
  /** Memo: rule prefix → pod addresses inside it that are narrower than their PodCIDR. */
  shadowedAddresses: Map<string, EndpointAddress[]>;
}

function groupBy<K, V>(items: V[], key: (item: V) => K): Map<K, V[]> {
  const out = new Map<K, V[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

const cache = new WeakMap<ClusterSnapshot, SnapshotIndex>();

function buildIndex(snapshot: ClusterSnapshot): SnapshotIndex {
  const identityLabels = new Map<number, Labels>();
  for (const identity of snapshot.identities)
    identityLabels.set(identity.id, normalizeLabels(identity.labels));
  for (const endpoint of snapshot.endpoints) {
    identityLabels.set(endpoint.identity, {
      ...normalizeLabels(endpointLabels(endpoint)),
      ...identityLabels.get(endpoint.identity),
    });
  }
  // Aggregation merges only exact sibling halves, so the prefixes cover the same addresses, in far
  // fewer ipcache entries when PodCIDRs are handed out from one range.
  const podCidrs = aggregateCidrs(
    snapshot.nodes.flatMap((n) => n.podCIDRs.filter((c) => parseCidr(c) !== undefined)),
  )
    .map((c) => parseCidr(c))
    .filter((c): c is ParsedCidr => c !== undefined);
  const addresses: EndpointAddress[] = [];
  for (const endpoint of snapshot.endpoints) {
    for (const address of [endpoint.ipv4, endpoint.ipv6]) {
      const ip = address ? parseIp(address) : undefined;
      if (!ip) continue;
      const holder = podCidrs.find((c) => cidrHolds(c, ip.family, ip.value));
      addresses.push({
        endpoint,
        family: ip.family,
        value: ip.value,
        prefix: `${ip.text}/${familyBits(ip.family)}`,
        podCidrLength: holder?.prefixLength ?? -1,
      });
    }
  }
  const nodeHostPrefixes = new Map(
    snapshot.nodes.map((n) => [
      n.name,
      n.addresses
        .map((a) => parseIp(a.split("/")[0]!))
        .filter((ip) => ip !== undefined)
        .map((ip) => `${ip.text}/${familyBits(ip.family)}`),
    ]),
  );
  return {
    nodeAddressPrefixes: aggregateCidrs([...nodeHostPrefixes.values()].flat()),
    identityLabels,
    addresses,
    addressesByNode: groupBy(addresses, (a) => a.endpoint.node),
    addressesByIdentity: groupBy(addresses, (a) => a.endpoint.identity),
    endpointsByNode: groupBy(snapshot.endpoints, (e) => e.node),
    allEndpoints: snapshot.endpoints,
    endpointLabels: new Map(snapshot.endpoints.map((e) => [e, normalizeLabels(endpointLabels(e))])),
    podCidrs,
    nodeHostPrefixes,
    selectorMatches: new Map(),
    shadowedAddresses: new Map(),
  };
}

export function indexSnapshot(snapshot: ClusterSnapshot): SnapshotIndex {
  let index = cache.get(snapshot);
  if (!index) {
    index = buildIndex(snapshot);
    cache.set(snapshot, index);
  }
  return index;
}

export function cidrHolds(cidr: ParsedCidr, family: 4 | 6, value: bigint): boolean {
  if (cidr.family !== family) return false;
  const shift = BigInt(familyBits(family) - cidr.prefixLength);
  return value >> shift === cidr.network >> shift;
}

/** Identities whose labels the (already scoped) selector matches, memoized per snapshot. */
export function identitiesMatching(index: SnapshotIndex, selector: LabelSelector): number[] {
  const key = JSON.stringify(selector);
  let ids = index.selectorMatches.get(key);
  if (!ids) {
    ids = [];
    for (const [id, labels] of index.identityLabels)
      if (selectorMatchesNormalized(selector, labels)) ids.push(id);
    index.selectorMatches.set(key, ids);
  }
  return ids;
}

/** Pod addresses inside `prefix` where the prefix is narrower than their PodCIDR, memoized per snapshot. */
export function addressesShadowedBy(index: SnapshotIndex, prefix: ParsedCidr): EndpointAddress[] {
  let found = index.shadowedAddresses.get(prefix.text);
  if (!found) {
    found = index.addresses.filter(
      (a) => prefix.prefixLength > a.podCidrLength && cidrHolds(prefix, a.family, a.value),
    );
    index.shadowedAddresses.set(prefix.text, found);
  }
  return found;
}
