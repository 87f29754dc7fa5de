// Numeric identities. Reserved numbers match Cilium's so flows read the same in both products;
// node-local identities (CIDRs, FQDN selectors) live above 2^24 as in Cilium and are derived from
// their text, so a prefix keeps its number when other prefixes come and go.
import { createHash } from "node:crypto";

export const ReservedIdentity = {
  any: 0,
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  remoteNode: 6,
  kubeApiserver: 7,
  ingress: 8,
  /**
   * Meridian-specific: a pod address this node has no individual entry for. Every PodCIDR maps to it,
   * so pods the node's policy never names stay out of its ipcache without being mistaken for world.
   */
  clusterPod: 128,
} as const;

export const RESERVED_IDENTITY_NAMES: Record<number, string> = {
  0: "any",
  1: "reserved:host",
  2: "reserved:world",
  3: "reserved:unmanaged",
  4: "reserved:health",
  5: "reserved:init",
  6: "reserved:remote-node",
  7: "reserved:kube-apiserver",
  8: "reserved:ingress",
  128: "reserved:cluster-pod",
};

export const LOCAL_IDENTITY_BASE = 1 << 24;
const LOCAL_RANGE = 1 << 22;
/** CIDR identities: [2^24, 2^24 + 2^22); FQDN selector identities: the next 2^22. */
export const CIDR_IDENTITY_BASE = LOCAL_IDENTITY_BASE;
export const FQDN_IDENTITY_BASE = LOCAL_IDENTITY_BASE + LOCAL_RANGE;

export function isLocalIdentity(id: number): boolean {
  return id >= LOCAL_IDENTITY_BASE;
}

function hash32(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0);
}

/**
 * Gives each key a number in [base, base + 2^22) from a hash of its text. Collisions are resolved by
 * probing upward, visiting keys in sorted order so the result depends only on the set of keys.
 */
export function allocateLocalIdentities(keys: Iterable<string>, base: number): Map<string, number> {
  const sorted = [...new Set(keys)].sort();
  const taken = new Set<number>();
  const out = new Map<string, number>();
  for (const key of sorted) {
    let slot = hash32(key) % LOCAL_RANGE;
    while (taken.has(slot)) slot = (slot + 1) % LOCAL_RANGE;
    taken.add(slot);
    out.set(key, base + slot);
  }
  return out;
}
