// Two BGP instances on one node (different local ASNs: one towards the ToR, one towards a route
// server), with routers played by our own speaker on loopback addresses (no root, no daemons).
// The routers only connect in, so every session comes up through the controller's one shared
// listener, which must hand each connection to the right instance.

import { BgpSpeaker } from "@meridian/bgp";
import type { BgpInstanceState, BgpPeerState, BgpRouteState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../testing/wait.js";
import { formatPeers } from "./cli.js";
import { BgpController } from "./controller.js";
import type { DesiredBgp } from "./plan.js";

const n = 10 + (process.pid % 200);
const us = `127.81.${n}.1`;
const torAddr = `127.81.${n}.2`;
const rsAddr = `127.81.${n}.3`;
/** Where the controller's own active connections go: nothing listens there. */
const CLOSED_PORT = 9;

const routers: BgpSpeaker[] = [];
let controller: BgpController;
let tor: BgpSpeaker;
let rs: BgpSpeaker;

/** A router that only dials the node's shared port. */
function router(address: string, asn: number, nodeAsn: number, port: number): BgpSpeaker {
  const r = new BgpSpeaker({ asn, routerId: address, listen: false });
  r.addPeer({
    address: us,
    asn: nodeAsn,
    port,
    localAddress: address,
    connectRetry: 1,
    holdTime: 9,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
  });
  routers.push(r);
  return r;
}

const route = (prefix: string, advertisement: string, communities: string[] = []): BgpRouteState => ({
  prefix,
  advertisement,
  communities,
  largeCommunities: [],
});

function peer(name: string, address: string, asn: number, routes: BgpRouteState[]): BgpPeerState {
  return {
    name,
    address,
    peerASN: asn,
    port: CLOSED_PORT,
    holdTimeSeconds: 9,
    keepaliveSeconds: 3,
    connectRetrySeconds: 1,
    families: ["ipv4-unicast"],
    hasPassword: false,
    routes,
  };
}

const fabric = (extraPeers: BgpPeerState[] = []): BgpInstanceState => ({
  name: "fabric",
  localASN: 65001,
  routerID: us,
  peers: [peer("tor-a", torAddr, 65010, [route("10.244.7.0/24", "pods", ["65001:100"])]), ...extraPeers],
});

const upstream = (asn = 65100, extraPeers: BgpPeerState[] = []): BgpInstanceState => ({
  name: "upstream",
  localASN: asn,
  routerID: us,
  peers: [peer("rs-a", rsAddr, 65200, [route("192.0.2.10/32", "vips", ["65100:200"])]), ...extraPeers],
});

const context = { nodeAddresses: [`${us}/24`] };
const apply = (instances: BgpInstanceState[]) =>
  controller.apply({ instances } satisfies DesiredBgp, context);
const peerRow = (name: string) => controller.status().peers.find((p) => p.name === name);

beforeAll(async () => {
  controller = new BgpController({ listen: { port: 0, host: us }, kernelRoutes: false });
  await apply([fabric(), upstream()]);
  const port = controller.listenPort!;
  tor = router(torAddr, 65010, 65001, port);
  rs = router(rsAddr, 65200, 65100, port);
  rs.originate({ prefix: "198.51.100.0/24" });
  tor.originate({ prefix: "172.16.0.0/12" });
});

afterAll(async () => {
  await controller.stop();
  for (const r of routers) await r.stop();
});

describe("two BGP instances on one node", () => {
  it("brings both sessions up through one listener, each with its instance's ASN", async () => {
    await waitFor("fabric session", () => peerRow("tor-a")?.state === "Established");
    await waitFor("upstream session", () => peerRow("rs-a")?.state === "Established");
    const st = controller.status();
    expect(st.instances.map((i) => [i.name, i.localASN, i.running])).toEqual([
      ["fabric", 65001, true],
      ["upstream", 65100, true],
    ]);
    expect(st.peers.map((p) => [p.instance, p.name, p.peerASN])).toEqual([
      ["fabric", "tor-a", 65010],
      ["upstream", "rs-a", 65200],
    ]);
    // The routers see the ASN of the instance they peer with.
    await waitFor("ToR side Established", () => tor.peerStatus(us)?.state === "Established");
    await waitFor("RS side Established", () => rs.peerStatus(us)?.state === "Established");
    const text = formatPeers(st);
    expect(text).toContain("BGP instance fabric  local AS 65001");
    expect(text).toContain("BGP instance upstream  local AS 65100");
    expect(text).toMatch(/fabric\s+tor-a\s+127\.81\.\d+\.2\s+65010\s+Established/);
    expect(text).toMatch(/upstream\s+rs-a\s+127\.81\.\d+\.3\s+65200\s+Established/);
  });

  it("keeps routes per instance: each router gets its instance's advertisements only", async () => {
    const atTor = await waitFor("PodCIDR at the ToR", () => tor.receivedRoutes(us, "ipv4-unicast")[0]);
    expect(atTor).toMatchObject({ prefix: "10.244.7.0/24", asPath: [65001], communities: ["65001:100"] });
    const atRs = await waitFor("VIP at the route server", () => rs.receivedRoutes(us, "ipv4-unicast")[0]);
    expect(atRs).toMatchObject({ prefix: "192.0.2.10/32", asPath: [65100], communities: ["65100:200"] });
    // No other route is on its way: what each instance sends a router is its Adj-RIB-Out towards
    // it, and those hold the instance's own advertisement only (rather than a fixed wait for a
    // route that should not come).
    expect(controller.advertisedRoutes("fabric/tor-a").map((r) => r.prefix)).toEqual(["10.244.7.0/24"]);
    expect(controller.advertisedRoutes("upstream/rs-a").map((r) => r.prefix)).toEqual(["192.0.2.10/32"]);
    expect(tor.receivedRoutes(us, "ipv4-unicast")).toHaveLength(1);
    expect(rs.receivedRoutes(us, "ipv4-unicast")).toHaveLength(1);
    // The looking glass, by peer name or instance/peer.
    await waitFor("RS route in the upstream instance", () => controller.receivedRoutes("rs-a").length === 1);
    expect(controller.receivedRoutes("upstream/rs-a").map((r) => r.prefix)).toEqual(["198.51.100.0/24"]);
    await waitFor("ToR route in fabric", () => controller.receivedRoutes("fabric/tor-a").length === 1);
    expect(controller.receivedRoutes("tor-a").map((r) => r.prefix)).toEqual(["172.16.0.0/12"]);
    expect(controller.advertisedRoutes("upstream/rs-a").map((r) => r.prefix)).toEqual(["192.0.2.10/32"]);
    expect(() => controller.receivedRoutes("fabric/rs-a")).toThrow(/no BGP peer/);
  });

  it("removing one instance, re-adding it and changing its ASN never touch the other's session", async () => {
    const before = peerRow("tor-a")!;
    const torFlaps = tor.peerStatus(us)!.flaps;
    await apply([fabric()]);
    await waitFor("upstream session gone at the RS", () => rs.peerStatus(us)?.state !== "Established");
    expect(controller.status().instances.map((i) => i.name)).toEqual(["fabric"]);
    await apply([fabric(), upstream()]);
    await waitFor("upstream back", () => peerRow("rs-a")?.state === "Established");
    // A new ASN re-creates the upstream speaker only (the RS is told 65100, so it refuses 65101).
    await apply([fabric(), upstream(65101)]);
    await waitFor("upstream reset for its new ASN", () => peerRow("rs-a")?.state !== "Established");
    await apply([fabric(), upstream()]);
    await waitFor("upstream back again", () => peerRow("rs-a")?.state === "Established");
    const after = peerRow("tor-a")!;
    expect(after.state).toBe("Established");
    expect(after.flaps).toBe(before.flaps);
    expect(after.uptimeSeconds).toBeGreaterThanOrEqual(before.uptimeSeconds);
    expect(tor.peerStatus(us)!.flaps).toBe(torFlaps);
    expect(rs.peerStatus(us)!.flaps).toBeGreaterThanOrEqual(2);
  });

  it("refuses a peer address that another instance of the node already has, by name", async () => {
    const torFlaps = tor.peerStatus(us)!.flaps;
    await apply([fabric(), upstream(65100, [peer("tor-again", torAddr, 65010, [])])]);
    const dup = peerRow("tor-again")!;
    expect(dup).toMatchObject({ instance: "upstream", state: "NotStarted" });
    expect(dup.problems[0]).toMatch(/already peer tor-a of BGP instance fabric on this node/);
    expect(peerRow("tor-a")!.state).toBe("Established");
    expect(tor.peerStatus(us)!.flaps).toBe(torFlaps);
    await apply([fabric(), upstream()]);
  });
});
