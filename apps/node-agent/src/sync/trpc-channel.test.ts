// The agent's channel to the control plane, over the API's typed client, against a real API on
// PostgreSQL (skipped without a database): join, the desired state stream, heartbeats, endpoint
// inventory, and every component's status as the agent builds it, read back by a viewer through
// the schemas the console uses.
import { parseComponentDetail } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cniStatusSchema } from "../agent/daemon.js";
import { type BgpStatus, bgpComponentStatus } from "../features/bgp/status.js";
import type { DatapathStatus } from "../features/policy/feature.js";
import type { RoutingStatus } from "../features/routing/feature.js";
import { type ControlPlaneChannel, ControlPlaneRejectedError, type DesiredStateEvent } from "./channel.js";
import { createTrpcChannel } from "./trpc-channel.js";

const hasDb = Boolean(process.env.MERIDIAN_TEST_SERVER_URL ?? process.env.DATABASE_URL);

const bgp: BgpStatus = {
  instances: [{ name: "dc", localASN: 65001, routerID: "10.0.0.1", running: true, problems: [] }],
  running: true,
  problems: [],
  peers: [
    {
      name: "tor-a",
      instance: "dc",
      address: "10.0.0.2",
      peerASN: 65002,
      state: "Established",
      uptimeSeconds: 75,
      flaps: 1,
      prefixes: { "ipv4-unicast": { received: 3, accepted: 2, advertised: 4 } },
      negotiated: {
        families: ["ipv4-unicast"],
        holdTimeSeconds: 90,
        keepaliveSeconds: 30,
        fourOctetAsn: true,
        routeRefresh: true,
        gracefulRestart: true,
        extendedNextHop: [],
        peerRouterID: "10.0.0.2",
        localAddress: "10.0.0.1",
      },
      configured: { holdTimeSeconds: 90, families: ["ipv4-unicast"], md5: false, gracefulRestart: true },
      installRoutes: true,
      routesInstalled: 2,
      problems: [],
    },
  ],
};

describe.skipIf(!hasDb)("the agent channel over the API's typed client", () => {
  type Harness = Awaited<ReturnType<typeof import("@meridian/api/testing")["createHarness"]>>;
  type Server = Awaited<ReturnType<typeof import("@meridian/api/server")["startServer"]>>;
  let h: Harness;
  let api: Server;
  let channel: ControlPlaneChannel;
  let credential: string | undefined;

  beforeAll(async () => {
    const { createHarness } = await import("@meridian/api/testing");
    const { startServer } = await import("@meridian/api/server");
    h = await createHarness();
    api = await startServer({ db: h.db, changeFeed: h.feed });
    const admin = await h.as("admin");
    const { secret } = await admin.joinTokens.create({});
    channel = createTrpcChannel(api.url, () => credential);
    const joined = await channel.join({ token: secret, nodeName: "chan-1", podCIDRs: ["10.62.0.0/24"] });
    credential = joined.credential;
    expect(joined.nodeName).toBe("chan-1");
  });
  afterAll(async () => {
    channel?.close();
    await api?.close();
    await h?.close();
  });

  const overview = async () => {
    const viewer = await h.as("viewer");
    return (await viewer.status.overview({})).nodes.find((n) => n.name === "chan-1")!;
  };

  it("follows the desired state: a snapshot of this node's state first", async () => {
    const events: DesiredStateEvent[] = [];
    const errors: Error[] = [];
    const stop = channel.subscribe(
      {},
      { onEvent: (e) => events.push(e), onError: (e) => errors.push(e), onConnection: () => {} },
    );
    try {
      for (let i = 0; i < 200 && events.length === 0 && errors.length === 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect(errors).toEqual([]);
      const first = events[0];
      expect(first?.type).toBe("snapshot");
      if (first?.type !== "snapshot") return;
      expect(first.state.node).toMatchObject({ name: "chan-1", podCIDRs: ["10.62.0.0/24"] });
      expect(first.contentHash).toBe(first.state.contentHash);
    } finally {
      stop();
    }
  });

  it("reports every component as the agent builds it; the viewer reads each back through its schema", async () => {
    const bgpStatus = bgpComponentStatus(bgp);
    const datapath: DatapathStatus = { component: "datapath", state: "ok", message: "ebpf" };
    const routing: RoutingStatus = { component: "routing", state: "ok", message: "0 peer routes" };
    const cni = cniStatusSchema.parse({
      component: "cni",
      state: "ok",
      message: "0 endpoints",
      detail: { podCIDRs: ["10.62.0.0/24"] },
    });
    await channel.heartbeat(1);
    await channel.reportStatus({ appliedRevision: 1, components: [datapath, routing, bgpStatus, cni] });
    const node = await overview();
    expect(node.appliedRevision).toBe(1);
    const detail = (c: string) => node.components.find((x) => x.component === c)?.detail;
    expect(parseComponentDetail("bgp", detail("bgp"))).toEqual(bgpStatus.detail);
    expect(parseComponentDetail("bgp", detail("bgp"))?.peers["10.0.0.2"]).toMatchObject({
      state: "Established",
      prefixesReceived: 3,
      routesInstalled: 2,
    });
    expect(parseComponentDetail("cni", detail("cni"))).toEqual({ podCIDRs: ["10.62.0.0/24"] });
    expect(parseComponentDetail("datapath", detail("datapath"))).toEqual({});
  });

  it("a report the API's schema refuses fails, and the stored status stays", async () => {
    const bad = bgpComponentStatus({ ...bgp, peers: [{ ...bgp.peers[0]!, peerASN: -1 }] });
    await expect(channel.reportStatus({ components: [bad] })).rejects.toThrow(/peerASN/);
    const node = await overview();
    const stored = parseComponentDetail("bgp", node.components.find((c) => c.component === "bgp")?.detail);
    expect(stored?.peers["10.0.0.2"]?.peerASN).toBe(65002);
  });

  it("sends the endpoint inventory; a password for a peer this node does not have is a rejection", async () => {
    await channel.reportEndpoints([
      { namespace: "shop", name: "web-0", labels: { app: "web" }, ipv4: "10.62.0.5" },
    ]);
    const viewer = await h.as("viewer");
    const eps = await viewer.endpoints.list({ search: "web-0" });
    expect(eps.items.map((e) => [e.namespace, e.name, e.node])).toEqual([["shop", "web-0", "chan-1"]]);
    await expect(channel.bgpPassword!("00000000-0000-4000-8000-000000000000")).rejects.toBeInstanceOf(
      ControlPlaneRejectedError,
    );
  });
});
