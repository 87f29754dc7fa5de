// A `bgp` component detail as an agent reports it (the shape the API checks: @meridian/model's
// bgp/session-schemas.ts), for tests that play the agent: each peer's fields the test cares about, the
// rest as an agent sends them for a quiet session.
import type { BgpComponentDetail, BgpSessionDetail } from "@meridian/model";

export function bgpDetail(peers: Record<string, Partial<BgpSessionDetail>>): BgpComponentDetail {
  return {
    instances: [{ name: "default", running: true, problems: [] }],
    running: true,
    problems: [],
    peers: Object.fromEntries(
      Object.entries(peers).map(([address, session]) => [
        address,
        {
          name: address,
          instance: "default",
          address,
          peerASN: 65000,
          state: "Idle",
          uptimeSeconds: 0,
          flaps: 0,
          prefixes: {},
          configured: { families: ["ipv4-unicast"], md5: false, gracefulRestart: false },
          installRoutes: false,
          routesInstalled: 0,
          problems: [],
          prefixesReceived: 0,
          prefixesAccepted: 0,
          prefixesAdvertised: 0,
          ...session,
        },
      ]),
    ),
  };
}
