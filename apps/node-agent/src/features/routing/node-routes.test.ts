// Peer routing against a real kernel routing table (in a scratch namespace). Needs root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scratch, sh } from "../../testing/netns.js";
import { desiredPeerRoutes, reconcilePeerRoutes } from "./node-routes.js";

const scratch = new Scratch("routes");
let ns: { name: string; path: string };

beforeAll(() => {
  ns = scratch.netns("node");
  // An uplink on the fabric subnet so next hops are on-link (a veth pair, both ends here).
  scratch.veth(ns, "eth0", "eth0p", ["10.99.0.1/24", "fd99::1/64"]);
});
afterAll(() => scratch.cleanup());

const peers = [
  { name: "n2", addresses: ["10.99.0.2", "fd99::2"], podCIDRs: ["10.244.2.0/24", "fd00:10:244:2::/64"] },
  { name: "n3", addresses: ["10.99.0.3"], podCIDRs: ["10.244.3.0/24", "fd00:10:244:3::/64"] },
];
const routes = () =>
  sh("ip", ["-n", ns.name, "route", "show"]) + sh("ip", ["-n", ns.name, "-6", "route", "show"]);

describe("routes to other nodes' PodCIDRs", () => {
  it("routes each PodCIDR via the peer's address of the same family, skipping families it lacks", () => {
    expect(desiredPeerRoutes(peers)).toEqual([
      { dst: "10.244.2.0/24", via: "10.99.0.2" },
      { dst: "fd00:10:244:2::/64", via: "fd99::2" },
      { dst: "10.244.3.0/24", via: "10.99.0.3" },
    ]);
  });

  it("installs them, and applying the same set again changes nothing", async () => {
    const first = await reconcilePeerRoutes(desiredPeerRoutes(peers), { netns: ns.path });
    expect(first.added).toHaveLength(3);
    expect(routes()).toContain("10.244.2.0/24 via 10.99.0.2 dev eth0 proto 77");
    expect(routes()).toContain("fd00:10:244:2::/64 via fd99::2 dev eth0 proto 77");
    const again = await reconcilePeerRoutes(desiredPeerRoutes(peers), { netns: ns.path });
    expect(again).toEqual({ added: [], removed: [] });
  });

  it("removes routes of a departed peer and leaves routes it does not own alone", async () => {
    sh("ip", ["-n", ns.name, "route", "add", "192.0.2.0/24", "via", "10.99.0.9"]); // an operator's route
    const changes = await reconcilePeerRoutes(desiredPeerRoutes([peers[0]!]), { netns: ns.path });
    expect(changes.removed).toEqual([{ dst: "10.244.3.0/24", via: "10.99.0.3" }]);
    expect(routes()).not.toContain("10.244.3.0/24");
    expect(routes()).toContain("192.0.2.0/24 via 10.99.0.9");
  });

  it("moves a route when a peer's address changes", async () => {
    const moved = [{ ...peers[0]!, addresses: ["10.99.0.22", "fd99::2"] }];
    const changes = await reconcilePeerRoutes(desiredPeerRoutes(moved), { netns: ns.path });
    expect(changes.added).toEqual([{ dst: "10.244.2.0/24", via: "10.99.0.22" }]);
    expect(changes.removed).toEqual([{ dst: "10.244.2.0/24", via: "10.99.0.2" }]);
    expect(routes()).toContain("10.244.2.0/24 via 10.99.0.22");
  });
});
