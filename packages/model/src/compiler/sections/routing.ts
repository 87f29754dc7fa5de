// The `routing` section (`peers`): every other node with PodCIDRs and the bare addresses that are
// the next hops for them; the agent's routing subsystem installs a route per PodCIDR.
//
// With a thousand nodes, every node's state lists the other 999: building, serializing and
// hashing that list per node was most of the compile time. The list is built and serialized once
// (and reused across snapshots while the nodes do not change); each node takes it minus itself,
// and its canonical JSON is joined from pre-serialized blocks (canonicalJson below).
import { z } from "zod";
import { byText, canonicalJson } from "../hash";
import type { ClusterSnapshot } from "../snapshot";
import type { PeerNodeState } from "../types";
import { defineSection } from "./section";

export const peerNodeSchema = z.strictObject({
  name: z.string(),
  /** Bare IPs (no prefix length), the next hops for its PodCIDRs. */
  addresses: z.array(z.string()),
  podCIDRs: z.array(z.string()),
});

/** Peers are serialized in blocks, so a node's list (all but itself) is a join of block strings. */
const PEER_BLOCK = 64;

class PeerList {
  private readonly all: PeerNodeState[];
  private readonly position = new Map<string, number>();
  private readonly json: string[];
  private readonly blocks: string[] = [];
  /** Per node, the same array every time (and across snapshots with the same nodes). */
  private readonly perNode = new Map<string, PeerNodeState[]>();

  constructor(nodes: ClusterSnapshot["nodes"]) {
    // Other nodes that have PodCIDRs, sorted, with bare addresses (next hops for their PodCIDRs).
    this.all = nodes
      .filter((n) => n.podCIDRs.length > 0)
      .sort((a, b) => byText(a.name, b.name))
      .map((n) => ({
        name: n.name,
        addresses: [...new Set(n.addresses.map((a) => a.split("/")[0] ?? a))].sort(byText),
        podCIDRs: [...n.podCIDRs].sort(byText),
      }));
    // Node names are unique in a snapshot; should one repeat, fall back to the general path.
    for (const [i, p] of this.all.entries()) this.position.set(p.name, i);
    this.json = this.all.map((p) => canonicalJson(p));
    for (let i = 0; i < this.json.length; i += PEER_BLOCK)
      this.blocks.push(this.json.slice(i, i + PEER_BLOCK).join(","));
  }

  private unique(): boolean {
    return this.position.size === this.all.length;
  }

  forNode(nodeName: string): PeerNodeState[] {
    let peers = this.perNode.get(nodeName);
    if (!peers) {
      peers = this.all.filter((p) => p.name !== nodeName);
      this.perNode.set(nodeName, peers);
    }
    return peers;
  }

  /** canonicalJson(this.forNode(nodeName)). */
  jsonFor(nodeName: string): string {
    if (!this.unique()) return canonicalJson(this.forNode(nodeName));
    const at = this.position.get(nodeName);
    if (at === undefined) return `[${this.blocks.join(",")}]`;
    const own = Math.floor(at / PEER_BLOCK);
    const parts: string[] = [];
    for (let b = 0; b < this.blocks.length; b++) {
      if (b !== own) parts.push(this.blocks[b]!);
      else {
        const start = b * PEER_BLOCK;
        const rest = this.json.slice(start, start + PEER_BLOCK).filter((_, i) => start + i !== at);
        if (rest.length) parts.push(rest.join(","));
      }
    }
    return `[${parts.join(",")}]`;
  }
}

const perSnapshot = new WeakMap<ClusterSnapshot, PeerList>();
// Successive snapshots usually have the same nodes: keep the last peer list while they do.
let lastPeers: { key: string; peers: PeerList } | undefined;

function peerListFor(snapshot: ClusterSnapshot): PeerList {
  let peers = perSnapshot.get(snapshot);
  if (!peers) {
    const key = JSON.stringify(snapshot.nodes.map((n) => [n.name, n.addresses, n.podCIDRs]));
    if (lastPeers?.key !== key) lastPeers = { key, peers: new PeerList(snapshot.nodes) };
    peers = lastPeers.peers;
    perSnapshot.set(snapshot, peers);
  }
  return peers;
}

export const routingSection = defineSection({
  name: "routing",
  keys: ["peers"],
  schema: z.strictObject({
    /** Every other node with PodCIDRs, by name: direct routes to their pods. */
    peers: z.array(peerNodeSchema),
  }),
  compile: ({ snapshot, node }) => ({ peers: peerListFor(snapshot).forNode(node.name) }),
  canonicalJson: (_key, { snapshot, node }) => peerListFor(snapshot).jsonFor(node.name),
});
