// The bgp component as the console reads it (apps/web/src/lib/bgp-status.ts): `detail.peers`
// keyed by peer address, `state`, `uptimeSeconds`, summed prefix counts, `lastError` in words.
import { describe, expect, it } from "vitest";
import { type BgpStatus, bgpComponentStatus, bgpComponentStatusSchema } from "./status.js";

const status: BgpStatus = {
  instances: [{ name: "dc", localASN: 65001, routerID: "10.0.0.1", running: true, problems: [] }],
  running: true,
  problems: [],
  peers: [
    {
      name: "tor-a",
      instance: "dc",
      address: "10.0.0.2",
      peerASN: 65002,
      state: "Active",
      uptimeSeconds: 0,
      flaps: 2,
      lastError: {
        words: "received: OPEN Message Error / Bad Peer AS",
        direction: "received",
        code: 2,
        subcode: 2,
        at: "2026-01-01T00:00:00.000Z",
      },
      prefixes: {
        "ipv4-unicast": { received: 3, accepted: 2, advertised: 4 },
        "ipv6-unicast": { received: 1, accepted: 1, advertised: 1 },
      },
      configured: { families: ["ipv4-unicast", "ipv6-unicast"], md5: false, gracefulRestart: true },
      installRoutes: false,
      routesInstalled: 0,
      problems: [],
    },
  ],
};

describe("bgpComponentStatus", () => {
  it("reports peers keyed by address in the console's shape", () => {
    const c = bgpComponentStatus(status);
    expect(c.component).toBe("bgp");
    expect(c.state).toBe("degraded");
    const peers = c.detail.peers as Record<string, Record<string, unknown>>;
    expect(Object.keys(peers)).toEqual(["10.0.0.2"]);
    expect(peers["10.0.0.2"]).toMatchObject({
      name: "tor-a",
      state: "Active",
      uptimeSeconds: 0,
      prefixesReceived: 4,
      prefixesAccepted: 3,
      prefixesAdvertised: 5,
      lastError: "received: OPEN Message Error / Bad Peer AS",
      lastErrorDetail: { code: 2, subcode: 2 },
    });
    expect(c.detail).toMatchObject({
      instances: [{ name: "dc", localASN: 65001, routerID: "10.0.0.1" }],
      running: true,
    });
    expect(peers["10.0.0.2"]).toMatchObject({ instance: "dc" });
  });

  it("matches the bgp component's schema, last error and per-family counts included", () => {
    const c = bgpComponentStatus(status);
    expect(bgpComponentStatusSchema.parse(c)).toEqual(c);
    const unknownKey = { ...c, detail: { ...c.detail, surprise: 1 } };
    expect(() => bgpComponentStatusSchema.parse(unknownKey)).toThrow(/surprise/);
  });
});
