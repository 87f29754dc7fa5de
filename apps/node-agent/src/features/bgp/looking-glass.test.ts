// The looking glass the agent reports, against two routers played by our own speaker on loopback
// (no root, no daemons): what the control plane receives is the controller's routes with their
// attributes, sent when they change, only for the peer that changed, and within the API's bounds.

import type { BgpSpeaker } from "@meridian/bgp";
import type { BgpPeerState, BgpRouteState } from "@meridian/model";
import { type ReportBgpRoutesInput, reportBgpRoutesInput } from "@meridian/model";
import { needs, parts } from "@meridian/testing";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTrpcChannel } from "../../sync/trpc-channel.js";
import { waitFor } from "../../testing/wait.js";
import { BgpController } from "./controller.js";
import { lookingGlassSnapshot } from "./looking-glass.js";
import { passiveRouter } from "./loopback-routers.js";
import type { DesiredBgp } from "./plan.js";
import { BgpRouteReporter } from "./route-reports.js";

const realParts = needs("BGP looking glass report through the API", [parts.database]);
const n = 10 + (process.pid % 200);
const us = `127.79.${n}.1`;
const torA = `127.79.${n}.2`; // eBGP, sends us routes
const torB = `127.79.${n}.3`; // iBGP, sends nothing

const routers: BgpSpeaker[] = [];
let controller: BgpController;
let reporter: BgpRouteReporter;
const sent: ReportBgpRoutesInput[] = [];

const router = (address: string, asn: number) => passiveRouter(routers, us, address, asn, ["ipv4-unicast"]);

function desired(a: BgpSpeaker, b: BgpSpeaker): DesiredBgp {
  const route = (prefix: string, advertisement: string, communities: string[] = []): BgpRouteState => ({
    prefix,
    advertisement,
    communities,
    largeCommunities: [],
  });
  const peer = (name: string, address: string, asn: number, port: number, routes: BgpRouteState[]) =>
    ({
      name,
      address,
      peerASN: asn,
      port,
      holdTimeSeconds: 9,
      keepaliveSeconds: 3,
      connectRetrySeconds: 1,
      families: ["ipv4-unicast"],
      hasPassword: false,
      routes,
    }) as BgpPeerState;
  return {
    instances: [
      {
        name: "dc",
        localASN: 65001,
        routerID: us,
        peers: [
          peer("tor-a", torA, 65010, a.listenPort!, [
            route("10.244.7.0/24", "pod-cidrs", ["65001:100"]),
            route("10.96.0.10/32", "vip-web", ["65001:200"]),
          ]),
          peer("tor-b", torB, 65001, b.listenPort!, [route("10.244.7.0/24", "pod-cidrs")]),
        ],
      },
    ],
  } as DesiredBgp;
}

/** The latest report that carried `peer`, as the control plane got it. */
const lastFor = (peer: string) => sent.findLast((r) => r.peers.some((p) => p.peer === peer))?.peers[0];
const table = (peer: string, direction: string) =>
  lastFor(peer)?.tables.find((t) => t.direction === direction && t.family === "ipv4-unicast");

let a: BgpSpeaker;
let b: BgpSpeaker;

beforeAll(async () => {
  a = await router(torA, 65010);
  b = await router(torB, 65001);
  controller = new BgpController({ listen: false, kernelRoutes: false } as ConstructorParameters<
    typeof BgpController
  >[0]);
  reporter = new BgpRouteReporter({
    snapshot: () => lookingGlassSnapshot(controller),
    send: async (report) => {
      // Exactly what agent.reportBgpRoutes would accept, or the test fails here.
      reportBgpRoutesInput.parse(report);
      sent.push(structuredClone(report));
    },
    log: pino({ level: "silent" }),
    minIntervalMs: 200,
    settleMs: 50,
  });
  controller.onRoutesChanged(() => reporter.changed());
  await controller.apply(desired(a, b), { nodeAddresses: [`${us}/24`] });
});

afterAll(async () => {
  reporter?.stop();
  await controller?.stop();
  for (const r of routers) await r.stop();
});

describe("BGP looking glass report", () => {
  it("sends each peer's received and advertised routes with their attributes once the sessions are up", async () => {
    a.originate({
      prefix: "10.50.0.0/16",
      med: 20,
      communities: ["65010:7", "no-export"],
      largeCommunities: ["65010:1:2"],
    });
    const rx = await waitFor("10.50.0.0/16 from tor-a in a report", () =>
      table("tor-a", "received")?.routes.find((r) => r.prefix === "10.50.0.0/16"),
    );
    expect(rx).toMatchObject({
      nextHops: [torA],
      asPath: [65010],
      origin: "igp",
      med: 20,
      // Well-known communities as their numbers, as the speaker prints them (NO_EXPORT).
      communities: ["65010:7", "65535:65281"],
      largeCommunities: ["65010:1:2"],
      stale: false,
    });
    const tx = await waitFor("both advertised routes to tor-a in a report", () => {
      const t = table("tor-a", "advertised");
      return t && t.routes.length === 2 ? t : undefined;
    });
    expect(tx.total).toBe(2);
    // In address order (10.96… before 10.244…), each with the advertisement that sends it.
    expect(tx.routes.map((r) => [r.prefix, r.reason, r.communities, r.asPath])).toEqual([
      ["10.96.0.10/32", "vip-web", ["65001:200"], [65001]],
      ["10.244.7.0/24", "pod-cidrs", ["65001:100"], [65001]],
    ]);
    // The iBGP peer gets LOCAL_PREF and no prepended AS; every report lists both peers.
    const txB = await waitFor("tor-b's advertised route in a report", () => {
      const t = table("tor-b", "advertised");
      return t && t.routes.length === 1 ? t : undefined;
    });
    expect(txB.routes[0]).toMatchObject({
      prefix: "10.244.7.0/24",
      asPath: [],
      localPref: 100,
      reason: "pod-cidrs",
    });
    expect(sent.at(-1)?.configuredPeers?.sort()).toEqual(["tor-a", "tor-b"]);
  });

  it("reports a withdrawal from one peer with that peer alone", async () => {
    await waitFor("tor-a's route reported", () => table("tor-a", "received")?.total === 1);
    const before = sent.length;
    a.withdraw({ prefix: "10.50.0.0/16" });
    await waitFor("the withdrawal in a report", () => table("tor-a", "received")?.total === 0);
    const after = sent.slice(before);
    expect(after.flatMap((r) => r.peers.map((p) => p.peer))).not.toContain("tor-b");
    expect(table("tor-a", "received")?.routes).toEqual([]);
  });

  it("cuts a big table to its first routes by prefix and keeps the total", async () => {
    for (const p of ["10.10.0.0/16", "10.2.0.0/16", "10.2.0.0/24", "192.0.2.0/24", "9.0.0.0/8"])
      a.originate({ prefix: p });
    await waitFor(
      "five routes from tor-a",
      () => controller.receivedRoutes("tor-a", "ipv4-unicast").length === 5,
    );
    const snap = lookingGlassSnapshot(controller, 3);
    const rx = snap
      .find((p) => p.peer === "tor-a")
      ?.tables.find((t) => t.direction === "received" && t.family === "ipv4-unicast");
    expect(rx?.total).toBe(5);
    expect(rx?.routes.map((r) => r.prefix)).toEqual(["9.0.0.0/8", "10.2.0.0/16", "10.2.0.0/24"]);
  });
});

// Over the real agent channel to a real API on PostgreSQL (skipped without a database): what a
// viewer reads back is what the controller holds.
describe.skipIf(realParts.skip)("BGP looking glass report through the API", () => {
  type Harness = Awaited<ReturnType<typeof import("@meridian/api/testing")["createHarness"]>>;
  type Server = Awaited<ReturnType<typeof import("@meridian/api/server")["startServer"]>>;
  let h: Harness;
  let api: Server;
  let viaApi: BgpRouteReporter;

  beforeAll(async () => {
    const { createHarness } = await import("@meridian/api/testing");
    const { startServer } = await import("@meridian/api/server");
    h = await createHarness();
    api = await startServer({ db: h.db, changeFeed: h.feed });
    const admin = await h.as("admin");
    const { secret } = await admin.joinTokens.create({});
    let credential: string | undefined;
    const channel = createTrpcChannel(api.url, () => credential);
    ({ credential } = await channel.join({ token: secret, nodeName: "lg-agent-node" }));
    viaApi = new BgpRouteReporter({
      snapshot: () => lookingGlassSnapshot(controller),
      send: (report) => channel.reportBgpRoutes!(report),
      log: pino({ level: "silent" }),
      minIntervalMs: 200,
      settleMs: 50,
    });
    controller.onRoutesChanged(() => viaApi.changed());
    viaApi.resync();
  });

  afterAll(async () => {
    viaApi?.stop();
    await api?.close();
    await h?.close();
  });

  it("a viewer reads the peer's routes as the controller holds them", async () => {
    a.originate({ prefix: "10.77.0.0/16", med: 7, communities: ["65010:77"] });
    const viewer = await h.as("viewer");
    const read = async () => {
      try {
        return await viewer.bgp.lookingGlass({ node: "lg-agent-node", peer: "tor-a", prefix: "10.77." });
      } catch {
        return undefined;
      }
    };
    const deadline = Date.now() + 15_000;
    let got = await read();
    while (!got?.routes.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      got = await read();
    }
    expect(got?.routes).toEqual([
      expect.objectContaining({
        prefix: "10.77.0.0/16",
        nextHops: [torA],
        asPath: [65010],
        med: 7,
        communities: ["65010:77"],
      }),
    ]);
    expect(got?.total).toBe(controller.receivedRoutes("tor-a", "ipv4-unicast").length);
    const tx = await viewer.bgp.lookingGlass({
      node: "lg-agent-node",
      peer: "tor-a",
      direction: "advertised",
    });
    expect(tx.routes.map((r) => [r.prefix, r.reason])).toEqual([
      ["10.96.0.10/32", "vip-web"],
      ["10.244.7.0/24", "pod-cidrs"],
    ]);
  });
});
