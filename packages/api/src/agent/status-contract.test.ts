// The status contract: a known component's detail must fit the schema the agent builds it to and
// the console reads it with (status-schemas.ts, bgp/session-schemas.ts); what fits is stored and
// read back as sent; a component without a schema yet keeps a free detail.

import type { BgpComponentDetail, BgpSessionDetail } from "@meridian/model";
import { parseComponentDetail } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
let agent: Awaited<ReturnType<Harness["withToken"]>>;

beforeAll(async () => {
  h = await createHarness();
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: "contract-1" });
  const anon = await h.anon();
  const { credential } = await anon.agent.join({
    token: secret,
    nodeName: "contract-1",
    podCIDRs: ["10.61.0.0/24"],
  });
  agent = await h.withToken(credential);
});
afterAll(async () => {
  await h?.close();
});

const session: BgpSessionDetail = {
  name: "tor-a",
  instance: "fabric",
  address: "192.0.2.1",
  peerASN: 65010,
  state: "Established",
  uptimeSeconds: 42,
  flaps: 1,
  prefixes: { "ipv4-unicast": { received: 7, accepted: 6, advertised: 2 } },
  configured: { families: ["ipv4-unicast"], md5: false, gracefulRestart: false },
  installRoutes: false,
  routesInstalled: 0,
  problems: [],
  prefixesReceived: 7,
  prefixesAccepted: 6,
  prefixesAdvertised: 2,
};
const detail: BgpComponentDetail = {
  instances: [{ name: "fabric", localASN: 65001, routerID: "192.0.2.100", running: true, problems: [] }],
  running: true,
  peers: { "192.0.2.1": session },
  problems: [],
};

async function storedDetail(component: string) {
  const viewer = await h.as("viewer");
  const node = (await viewer.status.overview({})).nodes.find((n) => n.name === "contract-1");
  return node?.components.find((c) => c.component === component)?.detail;
}

describe("agent.reportStatus checks each known component's detail", () => {
  it("a BGP report that fits is stored and reads back, through the shared schema, as sent", async () => {
    await agent.agent.reportStatus({
      components: [{ component: "bgp", state: "ok", message: "1/1 peers Established", detail }],
    });
    expect(parseComponentDetail("bgp", await storedDetail("bgp"))).toEqual(detail);
  });

  it("a BGP session with a state no FSM has is refused, naming the peer's field", async () => {
    const err = await errorOf(() =>
      agent.agent.reportStatus({
        components: [
          {
            component: "bgp",
            state: "ok",
            detail: { ...detail, peers: { "192.0.2.1": { ...session, state: "established-ish" } } },
          },
        ],
      }),
    );
    expect(err.code).toBe("BAD_REQUEST");
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["components.0.detail.peers.192.0.2.1.state"]);
    expect(err.fieldErrors?.["components.0.detail.peers.192.0.2.1.state"]?.[0]).toMatch(/^bgp component: /);
    // The stored report is still the last good one.
    expect(parseComponentDetail("bgp", await storedDetail("bgp"))).toEqual(detail);
  });

  it("a session missing what the console shows, or carrying a field nobody reads, is refused", async () => {
    const { prefixesReceived: _, ...missing } = session;
    const short = await errorOf(() =>
      agent.agent.reportStatus({
        components: [
          { component: "bgp", state: "ok", detail: { ...detail, peers: { "192.0.2.1": missing } } },
        ],
      }),
    );
    expect(Object.keys(short.fieldErrors ?? {})).toEqual([
      "components.0.detail.peers.192.0.2.1.prefixesReceived",
    ]);
    const extra = await errorOf(() =>
      agent.agent.reportStatus({
        components: [{ component: "datapath", state: "ok", detail: { attached: true } }],
      }),
    );
    expect(extra.code).toBe("BAD_REQUEST");
    expect(Object.keys(extra.fieldErrors ?? {})).toEqual(["components.0.detail"]);
  });

  it("a component left without detail stores {}; one without a schema yet keeps its free detail", async () => {
    await agent.agent.reportStatus({
      components: [
        { component: "routing", state: "ok", message: "2 peer routes" },
        { component: "dns-proxy", state: "ok", message: "", detail: { listening: "127.0.0.1:10053" } },
      ],
    });
    expect(await storedDetail("routing")).toEqual({});
    expect(await storedDetail("dns-proxy")).toEqual({ listening: "127.0.0.1:10053" });
  });
});
