// The DNS feature's kernel side: its two maps (bpf/lib/dns.h), opened by their pins under the
// node's pin directory, the nftables rule that hands marked packets to the proxy, and a read of
// conntrack for connections that still use a learned address.
import type { BpfMap } from "@meridian/native";
import {
  ctEntry,
  ctKey,
  DIRECTION,
  defineStruct,
  deleteBatch,
  formatAddr,
  mapEntries,
  parseAddr,
} from "../../datapath/index.js";
import { openPinnedMaps } from "../../datapath/maps.js";
import { run } from "../../routing/exec.js";

/** skb->mark from_pod puts on DNS it redirects (MARK_DNS_PROXY in bpf/lib/dns.h). */
export const MARK_DNS_PROXY = 0x4d520053;
export const NFT_TABLE = "meridian_dns";

export const dnsRedirKey = defineStruct("dns_redir_key", {
  ifindex: "u32",
  protocol: "u8",
  pad: "u8",
  port: "be16",
});
export const dnsOrigKey = defineStruct("dns_orig_key", {
  addr: { bytes: 16 },
  sport: "be16",
  protocol: "u8",
  family: "u8",
});
export const dnsOrig = defineStruct("dns_orig", {
  daddr: { bytes: 16 },
  dport: "be16",
  pad: "u16",
  ifindex: "u32",
});

export interface RedirectEntry {
  ifindex: number;
  protocol: number;
  port: number;
}

const redirKeyHex = (e: RedirectEntry) =>
  dnsRedirKey.encode({ ifindex: e.ifindex, protocol: e.protocol, pad: 0, port: e.port }).toString("hex");

export class DnsKernel {
  private constructor(
    private readonly redir: BpfMap,
    private readonly orig: BpfMap,
    private readonly ct: BpfMap,
  ) {}

  static open(pinDir: string): DnsKernel {
    const m = openPinnedMaps(pinDir, ["mdp_dns_redir", "mdp_dns_orig", "mdp_ct"] as const);
    return new DnsKernel(m.mdp_dns_redir, m.mdp_dns_orig, m.mdp_ct);
  }

  /**
   * Makes the redirect map exactly `want` (with `removeStale` false: adds what is missing, removes
   * nothing); returns what it wrote and removed.
   */
  setRedirects(want: RedirectEntry[], removeStale = true): { written: number; removed: number } {
    const wantKeys = new Map(want.map((e) => [redirKeyHex(e), e]));
    const have = new Set(mapEntries(this.redir).map(([k]) => Buffer.from(k).toString("hex")));
    const value = Buffer.alloc(4);
    value.writeUInt32LE(1);
    let written = 0;
    for (const [hex] of wantKeys) {
      if (have.has(hex)) continue;
      this.redir.update(Buffer.from(hex, "hex"), value);
      written++;
    }
    const stale = removeStale
      ? [...have].filter((h) => !wantKeys.has(h)).map((h) => Buffer.from(h, "hex"))
      : [];
    deleteBatch(this.redir, stale);
    return { written, removed: stale.length };
  }

  /** The server a pod addressed with the query it sent from `address`:`sport`, as from_pod recorded it. */
  originalDestination(
    address: string,
    sport: number,
    protocol: number,
  ): { address: string; port: number } | null {
    const a = parseAddr(address);
    const v = this.orig.lookup(dnsOrigKey.encode({ addr: a.bytes, sport, protocol, family: a.family }));
    if (!v) return null;
    const d = dnsOrig.decode(v);
    return { address: formatAddr(a.family, Buffer.from(d.daddr)), port: d.dport };
  }

  /**
   * The learned addresses (of `pairs`: endpoint address → remote address) that an established
   * flow from that endpoint carried a packet to within `idleNs`: they outlive their TTL.
   */
  busy(pairs: { from: string; to: string }[], idleNs: bigint): Set<string> {
    const out = new Set<string>();
    if (pairs.length === 0) return out;
    const wanted = new Set(pairs.map((p) => `${p.from}>${p.to}`));
    const now = process.hrtime.bigint();
    for (const [k, v] of mapEntries(this.ct)) {
      const key = ctKey.decode(k);
      if (key.direction !== DIRECTION.EGRESS) continue;
      const pair = `${formatAddr(key.family, Buffer.from(key.saddr))}>${formatAddr(key.family, Buffer.from(key.daddr))}`;
      if (!wanted.has(pair)) continue;
      if (now - ctEntry.decode(v).last_seen_ns <= idleNs) out.add(pair);
    }
    return out;
  }

  close(): void {
    for (const m of [this.redir, this.orig, this.ct]) m.close();
  }
}

/**
 * The node's nftables table: marked packets (from_pod's DNS redirect) to the proxy, through
 * conntrack, so the answer goes back with the server's address as its source. Replaced whole,
 * idempotent.
 *
 * IPv4: `redirect` to the address of the interface the query came in on (169.254.1.1 on every pod
 * veth); a reply from the proxy's socket on 0.0.0.0 leaves with that address, so conntrack maps it
 * back. IPv6 cannot do the same: the only address on a pod veth is fe80::1, and a reply from a socket
 * on :: to a pod's global address takes a global source (source address selection), which matches
 * no conntrack entry, so the pod never sees the answer. IPv6 is therefore DNATed to `proxyAddressV6`,
 * a /128 on the node's lo that the proxy's IPv6 sockets bind to: the reply's source is that address.
 */
export async function installNftRedirect(proxyPort: number, proxyAddressV6?: string): Promise<void> {
  // Without the address (a node without IPv6) marked IPv6 DNS is dropped: never let through unfiltered.
  const v6 = proxyAddressV6 ? `dnat ip6 to [${proxyAddressV6}]:${proxyPort}` : "drop";
  const rules = `table inet ${NFT_TABLE}
delete table inet ${NFT_TABLE}
table inet ${NFT_TABLE} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    meta mark ${MARK_DNS_PROXY} meta nfproto ipv4 meta l4proto { tcp, udp } redirect to :${proxyPort}
    meta mark ${MARK_DNS_PROXY} meta nfproto ipv6 meta l4proto { tcp, udp } ${v6}
  }
}
`;
  await run("nft", ["-f", "-"], { input: rules });
}

/** Puts the IPv6 proxy address on lo (idempotent); throws where the node has no IPv6. */
export async function addProxyAddressV6(address: string): Promise<void> {
  await run("ip", ["-6", "addr", "replace", `${address}/128`, "dev", "lo", "nodad"]);
}

export async function removeNftRedirect(): Promise<void> {
  await run("nft", ["delete", "table", "inet", NFT_TABLE]).catch(() => undefined);
}
