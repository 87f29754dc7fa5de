// Prefix → identity, looked up by longest prefix as the datapath's LPM map does.
import { familyBits, parseCidr, parsePrefixOrIp } from "../spec";
import { byText } from "./hash";
import { ReservedIdentity } from "./identity";
import type { SnapshotIndex } from "./snapshotIndex";
import type { IpcacheEntry } from "./types";

/**
 * Entries for the node, most specific source first when two claim one prefix: the endpoint
 * addresses it needs, its own addresses as host, all node addresses (aggregated) as remote-node
 * (its own longer host entries win), the CIDR
 * prefixes its policies use, every PodCIDR as cluster-pod (so unnamed pods are never world),
 * and world for everything else.
 */
export function buildIpcache(
  nodeName: string,
  index: SnapshotIndex,
  endpointAddresses: SnapshotIndex["addresses"],
  cidrIdentities: Map<string, number>,
): IpcacheEntry[] {
  const byPrefix = new Map<string, IpcacheEntry>();
  const put = (entry: IpcacheEntry) => {
    if (!byPrefix.has(entry.prefix)) byPrefix.set(entry.prefix, entry);
  };
  for (const address of endpointAddresses)
    put({ prefix: address.prefix, identity: address.endpoint.identity, source: "endpoint" });
  for (const prefix of index.nodeHostPrefixes.get(nodeName) ?? []) {
    put({ prefix, identity: ReservedIdentity.host, source: "host" });
  }
  for (const prefix of index.nodeAddressPrefixes) {
    put({ prefix, identity: ReservedIdentity.remoteNode, source: "remote-node" });
  }
  for (const [prefix, identity] of cidrIdentities) put({ prefix, identity, source: "cidr" });
  for (const cidr of index.podCidrs)
    put({ prefix: cidr.text, identity: ReservedIdentity.clusterPod, source: "pod-cidr" });
  put({ prefix: "0.0.0.0/0", identity: ReservedIdentity.world, source: "world" });
  put({ prefix: "::/0", identity: ReservedIdentity.world, source: "world" });
  return [...byPrefix.values()].sort((a, b) => byText(a.prefix, b.prefix));
}

/** The entry the datapath would pick for `ip`: the longest prefix containing it. */
export function lookupIpcache(ipcache: IpcacheEntry[], ip: string): IpcacheEntry | undefined {
  const target = parsePrefixOrIp(ip);
  if (!target) return undefined;
  let best: { entry: IpcacheEntry; length: number } | undefined;
  for (const entry of ipcache) {
    const cidr = parseCidr(entry.prefix);
    if (!cidr || cidr.family !== target.family) continue;
    const shift = BigInt(familyBits(cidr.family) - cidr.prefixLength);
    if (target.network >> shift !== cidr.network >> shift) continue;
    if (!best || cidr.prefixLength > best.length) best = { entry, length: cidr.prefixLength };
  }
  return best?.entry;
}
