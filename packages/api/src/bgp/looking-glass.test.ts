// The BGP looking glass through the API, on real PostgreSQL: agents report their peers' routes
// with the node credential, viewers read them back a page at a time.

import { LOOKING_GLASS_ROUTE_LIMIT, type LookingGlassRoute } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
let nodeA: Awaited<ReturnType<Harness["withToken"]>>;
let nodeB: Awaited<ReturnType<Harness["withToken"]>>;

async function join(name: string) {
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({});
  const joined = await (await h.anon()).agent.join({ token: secret, nodeName: name });
  return h.withToken(joined.credential);
}

const route = (prefix: string, extra: Partial<LookingGlassRoute> = {}): LookingGlassRoute => ({
  prefix,
  nextHops: ["192.0.2.1"],
  origin: "igp",
  asPath: [65001, 65010],
  med: 20,
  communities: ["65001:100"],
  largeCommunities: ["65001:1:2"],
  extendedCommunities: [],
  stale: false,
  ...extra,
});

beforeAll(async () => {
  h = await createHarness();
  nodeA = await join("lg-node-a");
  nodeB = await join("lg-node-b");
});
afterAll(() => h.close());

describe("BGP looking glass", () => {
  it("a viewer reads the routes a node reported for its peer, with their attributes and when they were reported", async () => {
    const before = Date.now();
    await nodeA.agent.reportBgpRoutes({
      peers: [
        {
          peer: "tor-a",
          address: "192.0.2.1",
          tables: [
            {
              direction: "received",
              family: "ipv4-unicast",
              total: 3,
              routes: [route("10.9.0.0/16"), route("10.9.1.0/24", { stale: true }), route("198.51.100.0/24")],
            },
            {
              direction: "advertised",
              family: "ipv4-unicast",
              total: 1,
              routes: [
                route("10.1.0.0/24", {
                  asPath: [64512],
                  nextHops: ["192.0.2.10"],
                  reason: "pod-cidrs",
                  communities: ["64512:300"],
                }),
              ],
            },
          ],
        },
      ],
      configuredPeers: ["tor-a"],
    });
    const viewer = await h.as("viewer");
    const rx = await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-a", direction: "received" });
    expect(rx).toMatchObject({
      peer: "tor-a",
      address: "192.0.2.1",
      family: "ipv4-unicast",
      total: 3,
      reported: 3,
      matched: 3,
      nextCursor: null,
    });
    expect(rx.routes.map((r) => r.prefix)).toEqual(["10.9.0.0/16", "10.9.1.0/24", "198.51.100.0/24"]);
    expect(rx.routes[0]).toMatchObject({
      asPath: [65001, 65010],
      med: 20,
      origin: "igp",
      communities: ["65001:100"],
      largeCommunities: ["65001:1:2"],
    });
    expect(rx.routes[1]?.stale).toBe(true);
    expect(rx.reportedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(rx.tables).toEqual([
      { direction: "received", family: "ipv4-unicast", total: 3, reported: 3 },
      { direction: "advertised", family: "ipv4-unicast", total: 1, reported: 1 },
    ]);

    // By address too, filtered by prefix text, and the advertised side with its reason.
    const filtered = await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "192.0.2.1", prefix: "10.9." });
    expect(filtered.routes.map((r) => r.prefix)).toEqual(["10.9.0.0/16", "10.9.1.0/24"]);
    expect(filtered).toMatchObject({ total: 3, matched: 2 });
    const tx = await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-a", direction: "advertised" });
    expect(tx.routes).toEqual([expect.objectContaining({ prefix: "10.1.0.0/24", reason: "pod-cidrs" })]);
  });

  it("pages through a table bigger than a page, and says how many routes the agent holds beyond what it sent", async () => {
    const routes = Array.from({ length: 250 }, (_, i) => route(`10.${i >> 8}.${i & 255}.0/24`));
    await nodeA.agent.reportBgpRoutes({
      peers: [
        {
          peer: "tor-big",
          address: "192.0.2.2",
          tables: [{ direction: "received", family: "ipv4-unicast", total: 120_000, routes }],
        },
      ],
    });
    const viewer = await h.as("viewer");
    const first = await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-big", limit: 100 });
    expect(first).toMatchObject({ total: 120_000, reported: 250, matched: 250, nextCursor: 100 });
    expect(first.routes).toHaveLength(100);
    const last = await viewer.bgp.lookingGlass({
      node: "lg-node-a",
      peer: "tor-big",
      limit: 100,
      cursor: 200,
    });
    expect(last.routes).toHaveLength(50);
    expect(last.nextCursor).toBeNull();
    expect(last.routes.at(-1)?.prefix).toBe("10.0.249.0/24");
  });

  it("a new report replaces the peer's snapshot whole, and peers the node no longer runs disappear", async () => {
    await nodeA.agent.reportBgpRoutes({
      peers: [
        {
          peer: "tor-a",
          address: "192.0.2.1",
          tables: [
            { direction: "received", family: "ipv4-unicast", total: 1, routes: [route("172.16.0.0/12")] },
          ],
        },
      ],
      configuredPeers: ["tor-a"],
    });
    const viewer = await h.as("viewer");
    const rx = await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-a" });
    expect(rx.routes.map((r) => r.prefix)).toEqual(["172.16.0.0/12"]);
    // The advertised table was not in the new report: it is gone, not kept from the old one.
    expect(rx.tables).toEqual([{ direction: "received", family: "ipv4-unicast", total: 1, reported: 1 }]);
    const gone = await errorOf(() => viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-big" }));
    expect(gone).toMatchObject({
      code: "NOT_FOUND",
      message: "node lg-node-a has not reported routes for BGP peer tor-big",
    });
  });

  it("a node credential writes only its own node, and cannot read the looking glass", async () => {
    const err = await errorOf(() =>
      nodeB.agent.reportBgpRoutes({ nodeName: "lg-node-a", peers: [], configuredPeers: [] }),
    );
    expect(err).toMatchObject({
      code: "FORBIDDEN",
      message: "this credential belongs to node lg-node-b, not lg-node-a",
    });
    // Node B's report of a peer with the same name lands on node B; node A's is untouched.
    await nodeB.agent.reportBgpRoutes({
      peers: [
        {
          peer: "tor-a",
          address: "192.0.2.1",
          tables: [{ direction: "received", family: "ipv4-unicast", total: 0, routes: [] }],
        },
      ],
      configuredPeers: ["tor-a"],
    });
    const viewer = await h.as("viewer");
    expect((await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-a" })).total).toBe(1);
    expect((await viewer.bgp.lookingGlass({ node: "lg-node-b", peer: "tor-a" })).total).toBe(0);
    const read = await errorOf(() => nodeB.bgp.lookingGlass({ node: "lg-node-b", peer: "tor-a" }));
    expect(read.code).toBe("FORBIDDEN");
  });

  it("refuses oversized or malformed reports with the field and the reason", async () => {
    const tooMany = Array.from({ length: LOOKING_GLASS_ROUTE_LIMIT + 1 }, (_, i) =>
      route(`10.${i >> 8}.${i & 255}.0/24`),
    );
    const big = await errorOf(() =>
      nodeA.agent.reportBgpRoutes({
        peers: [
          {
            peer: "tor-a",
            address: "192.0.2.1",
            tables: [{ direction: "received", family: "ipv4-unicast", total: 5000, routes: tooMany }],
          },
        ],
      }),
    );
    expect(big.code).toBe("BAD_REQUEST");
    expect(big.fieldErrors?.["peers.0.tables.0.routes"]?.[0]).toBe(
      "at most 1000 routes per table: send the first 1000 by prefix and the total",
    );

    const bad = await errorOf(() =>
      nodeA.agent.reportBgpRoutes({
        peers: [
          {
            peer: "tor-a",
            address: "192.0.2.1",
            tables: [
              {
                direction: "sideways" as "received",
                family: "ipv4-unicast",
                total: 1,
                routes: [route("10.0.0.0/8", { asPath: Array(1025).fill(65001) })],
              },
              { direction: "received", family: "ipv4-multicast" as "vpnv4", total: 0, routes: [] },
            ],
          },
        ],
      }),
    );
    expect(bad.fieldErrors).toMatchObject({
      "peers.0.tables.0.direction": ['direction "sideways" must be received or advertised'],
      "peers.0.tables.0.routes.0.asPath": [expect.stringMatching(/1024/)],
      "peers.0.tables.1.family": [expect.stringMatching(/address family "ipv4-multicast" is not one of/)],
    });

    const short = await errorOf(() =>
      nodeA.agent.reportBgpRoutes({
        peers: [
          {
            peer: "tor-a",
            address: "192.0.2.1",
            tables: [
              { direction: "received", family: "ipv4-unicast", total: 0, routes: [route("10.0.0.0/8")] },
            ],
          },
        ],
      }),
    );
    expect(short.fieldErrors).toEqual({
      "peers.0.tables.0.total": ["total must count at least the routes sent"],
    });
    // Nothing of the refused reports was stored.
    const viewer = await h.as("viewer");
    expect((await viewer.bgp.lookingGlass({ node: "lg-node-a", peer: "tor-a" })).routes[0]?.prefix).toBe(
      "172.16.0.0/12",
    );
  });

  it("wakes the live status stream when a node reports routes", async () => {
    await h.feed.start();
    const woke = new Promise<string>((resolve) => {
      const off = h.feed.subscribeStatus((node) => {
        off();
        resolve(node);
      });
    });
    await nodeA.agent.reportBgpRoutes({ peers: [], configuredPeers: ["tor-a"] });
    expect(await woke).toBe("lg-node-a");
  });
});
