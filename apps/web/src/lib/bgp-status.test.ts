// The console reads an agent's BGP sessions with the schema the agent builds them to and the API
// checks them against: what fits is shown as reported; a peer whose report does not fit (an older
// agent's, stored before the check) is left out instead of shown half-guessed.
import type { BgpSessionDetail } from "@meridian/model";
import { describe, expect, it } from "vitest";
import { bgpSessions, sessionDetail } from "./bgp-status";

const session: BgpSessionDetail = {
  name: "tor-a",
  instance: "fabric",
  address: "192.0.2.1",
  peerASN: 65010,
  state: "Established",
  uptimeSeconds: 120,
  flaps: 2,
  prefixes: {
    vpnv4: { received: 1, accepted: 1, advertised: 0 },
    "ipv4-unicast": { received: 10, accepted: 9, advertised: 3 },
  },
  negotiated: {
    families: ["ipv4-unicast", "vpnv4"],
    holdTimeSeconds: 90,
    keepaliveSeconds: 30,
    fourOctetAsn: true,
    routeRefresh: true,
    gracefulRestart: false,
    extendedNextHop: [],
    peerRouterID: "192.0.2.1",
    localAddress: "192.0.2.100",
  },
  configured: { holdTimeSeconds: 90, families: ["ipv4-unicast", "vpnv4"], md5: true, gracefulRestart: false },
  installRoutes: true,
  routesInstalled: 9,
  problems: [],
  prefixesReceived: 11,
  prefixesAccepted: 10,
  prefixesAdvertised: 3,
  lastError: "received: Cease / Administrative Reset",
  lastErrorDetail: {
    words: "received: Cease / Administrative Reset",
    direction: "received",
    code: 6,
    subcode: 4,
    at: "2026-11-30T08:15:00.000Z",
  },
};

const reportedAt = new Date(Date.now() - 30_000);
const nodes = (peers: Record<string, unknown>) => [
  { name: "node-a", components: [{ component: "bgp", detail: { peers }, updatedAt: reportedAt }] },
];

describe("the console's BGP sessions", () => {
  it("shows a reported session: state, uptime counted on since the report, prefixes, last error", () => {
    const [s, ...rest] = bgpSessions(nodes({ "192.0.2.1": session }));
    expect(rest).toEqual([]);
    expect(s).toMatchObject({
      node: "node-a",
      peer: "192.0.2.1",
      state: "established",
      prefixesReceived: 11,
      prefixesAdvertised: 3,
      lastError: "received: Cease / Administrative Reset",
      reportedAt,
    });
    expect(s!.uptimeSeconds).toBeGreaterThanOrEqual(150);
    expect(s!.uptimeSeconds).toBeLessThan(160);
  });

  it("a session that is down does not count up", () => {
    const [s] = bgpSessions(nodes({ "192.0.2.1": { ...session, state: "Active", uptimeSeconds: 0 } }));
    expect(s).toMatchObject({ state: "active", uptimeSeconds: 0 });
  });

  it("leaves out a peer whose report does not fit the schema, and keeps the others", () => {
    const sessions = bgpSessions(
      nodes({
        "192.0.2.1": session,
        "192.0.2.9": { state: "established", prefixesReceived: "many" },
        "192.0.2.10": "established",
      }),
    );
    expect(sessions.map((s) => s.peer)).toEqual(["192.0.2.1"]);
  });

  it("finds a session's detail by peer name or address, families in the order routers list them", () => {
    const byName = sessionDetail(nodes({ "192.0.2.1": session }), "node-a", ["tor-a"]);
    expect(byName).toEqual(sessionDetail(nodes({ "192.0.2.1": session }), "node-a", ["192.0.2.1"]));
    expect(byName).toMatchObject({
      flaps: 2,
      lastError: { words: "received: Cease / Administrative Reset", at: "2026-11-30T08:15:00.000Z" },
      families: [
        { family: "ipv4-unicast", received: 10, accepted: 9, advertised: 3 },
        { family: "vpnv4", received: 1, accepted: 1, advertised: 0 },
      ],
      negotiated: { holdTimeSeconds: 90, peerRouterID: "192.0.2.1" },
      configured: { holdTimeSeconds: 90, md5: true },
      installRoutes: true,
      routesInstalled: 9,
    });
    expect(sessionDetail(nodes({ "192.0.2.1": session }), "node-a", ["tor-b"])).toBeUndefined();
  });
});
