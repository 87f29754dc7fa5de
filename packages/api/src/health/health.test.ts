// health.overview and health.dns on real PostgreSQL, fed only through the agent procedures a node
// calls (agent.heartbeat, reportStatus, reportDnsEvents, reportFlows): before any report every tile
// says "not reported", a report is added up as the agent gave it, and an agent that went silent is
// "stale", never the healthy state it last reported. Also flows.drops scoped to a node or an
// endpoint and flows.dropsByEndpoint, which the node and endpoint pages show.

import type { BgpComponentDetail } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../test/harness";

let h: Harness;
const agents: Record<string, Awaited<ReturnType<Harness["withToken"]>>> = {};

async function join(name: string, host: number, podCIDR: string) {
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: name });
  const joined = await (await h.anon()).agent.join({
    token: secret,
    nodeName: name,
    addresses: [`192.168.71.${host}/24`],
    podCIDRs: [podCIDR],
    agentVersion: "test",
  });
  agents[name] = await h.withToken(joined.credential);
}

/** What an agent that has gone quiet looks like: its last heartbeat two minutes ago. */
async function silence(node: string) {
  await h.db.node.update({
    where: { name: node },
    data: { lastHeartbeatAt: new Date(Date.now() - 120_000) },
  });
}

const dnsDetail = {
  proxyPort: 10053,
  learned: 2,
  redirectedEndpoints: 3,
  stats: {
    queries: 40,
    allowed: 30,
    denied: 8,
    malformed: 0,
    dropped: 0,
    upstreamFailures: 1,
    datapathTimeouts: 2,
  },
};

const ago = (s: number) => new Date(Date.now() - s * 1000);
const query = (verdict: "allowed" | "denied" | "error", at: Date, reason?: string) => ({
  at,
  endpoint: "shop/web-1",
  qname: "api.partner.example",
  verdict,
  ...(verdict === "denied" ? { rcode: "REFUSED" } : verdict === "error" ? { rcode: "SERVFAIL" } : {}),
  ...(reason ? { reason } : {}),
});

beforeAll(async () => {
  h = await createHarness();
  await join("dns-a", 11, "10.71.1.0/24");
  await join("dns-b", 12, "10.71.2.0/24");
  await join("quiet-c", 13, "10.71.3.0/24");
  const op = await h.as("operator");
  await op.egress.create({
    name: "billing-out",
    spec: {
      selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
      destinationCIDRs: ["203.0.113.0/24"],
      gateways: [{ nodeName: "dns-b", egressIP: "192.168.71.100" }],
    },
  });
  await op.egress.create({
    name: "partner-out",
    spec: {
      selectors: [{ podSelector: { matchLabels: { app: "partner" } } }],
      destinationCIDRs: ["198.51.100.0/24"],
      gateways: [{ nodeName: "dns-b" }],
    },
  });
  await op.srv6.locatorPools.create({
    name: "core",
    spec: {
      prefix: "fc00:0:100::/40",
      locatorLength: 48,
      structure: { locatorBlockLength: 40, locatorNodeLength: 8, functionLength: 16, argumentLength: 0 },
    },
  });
  await op.srv6.vrfs.create({
    name: "red",
    spec: { vrfID: 10, locatorPool: "core", memberSelector: { matchLabels: { vpn: "red" } } },
  });
  await op.srv6.vrfs.create({
    name: "blue",
    spec: { vrfID: 20, locatorPool: "core", memberSelector: { matchLabels: { vpn: "blue" } } },
  });
  await agents["dns-a"]!.agent.reportEndpoints({
    endpoints: [
      { namespace: "shop", name: "web-1", labels: { vpn: "red" }, ipv4: "10.71.1.10" },
      { namespace: "shop", name: "blue-1", labels: { vpn: "blue" }, ipv4: "10.71.1.11" },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

describe("health.overview before any report", () => {
  it("says 'not reported' for every node's DNS proxy, every egress policy and every VRF", async () => {
    const o = await (await h.as("viewer")).health.overview();
    expect(o.dns.nodes.map((n) => [n.node, n.state, n.refusalsPerMinute, n.totals])).toEqual([
      ["dns-a", "not reported", 0, null],
      ["dns-b", "not reported", 0, null],
      ["quiet-c", "not reported", 0, null],
    ]);
    expect(o.egress.policies.map((p) => [p.name, p.state])).toEqual([
      ["billing-out", "not reported"],
      ["partner-out", "not reported"],
    ]);
    expect(o.srv6.vrfs.map((v) => [v.name, v.state, v.nodesReporting])).toEqual([
      ["red", "not reported", 0],
      ["blue", "not reported", 0],
    ]);
    expect(o.srv6).toMatchObject({ encapsulated: 0, decapsulated: 0, drops: 0, nodesReporting: 0 });
  });
});

describe("DNS health", () => {
  it("counts refusals and datapath timeouts per minute over the last five minutes from the query events", async () => {
    const a = agents["dns-a"]!;
    await a.agent.heartbeat({ appliedRevision: 1 });
    await a.agent.reportStatus({
      components: [{ component: "dns", state: "ok", message: "proxy on :10053", detail: dnsDetail }],
    });
    await a.agent.reportDnsEvents({
      events: [
        ...Array.from({ length: 6 }, (_, i) => query("denied", ago(10 + i), "no DNS rule allows it")),
        query("error", ago(20), "datapath: took longer than 100 ms"),
        query("error", ago(21), "datapath: took longer than 100 ms"),
        // An upstream failure is SERVFAIL too but not a datapath timeout.
        query("error", ago(22), "upstream timed out"),
        query("allowed", ago(30)),
        // Older than the window: not in the rate.
        query("denied", ago(400), "no DNS rule allows it"),
      ],
    });
    const dns = await (await h.as("viewer")).health.dns({ node: "dns-a" });
    expect(dns.minutes).toBe(5);
    expect(dns.nodes).toEqual([
      {
        node: "dns-a",
        state: "up",
        message: "proxy on :10053",
        updatedAt: expect.any(Date),
        queriesPerMinute: 2, // 10 queries / 5 min
        refusalsPerMinute: 1.2,
        timeoutsPerMinute: 0.4,
        totals: { queries: 40, denied: 8, datapathTimeouts: 2, upstreamFailures: 1 },
      },
    ]);
  });

  it("a proxy reporting error is down and says why; one whose agent went silent is stale", async () => {
    const b = agents["dns-b"]!;
    await b.agent.heartbeat({ appliedRevision: 1 });
    await b.agent.reportStatus({
      components: [
        {
          component: "dns",
          state: "error",
          message: "the nftables redirect to the DNS proxy failed: no such table",
          detail: { proxyPort: 10053, learned: 0, redirectedEndpoints: 0 },
        },
      ],
    });
    const viewer = await h.as("viewer");
    let dns = await viewer.health.dns({});
    expect(dns.nodes.map((n) => [n.node, n.state, n.message])).toEqual([
      ["dns-a", "up", "proxy on :10053"],
      ["dns-b", "down", "the nftables redirect to the DNS proxy failed: no such table"],
      ["quiet-c", "not reported", "no DNS proxy status reported"],
    ]);
    await silence("dns-a");
    dns = await viewer.health.dns({ node: "dns-a" });
    expect(dns.nodes[0]).toMatchObject({ state: "stale", refusalsPerMinute: 1.2 });
    await agents["dns-a"]!.agent.heartbeat({ appliedRevision: 1 });
    expect((await viewer.health.dns({ node: "dns-a" })).nodes[0]!.state).toBe("up");
  });
});

const egressPolicy = (over: Record<string, unknown>) => ({
  policy: "billing-out",
  role: "source",
  mode: { ipv4: "steer", ipv6: null },
  activeGateway: "dns-b",
  egressIP: "192.168.71.100",
  selectedLocalPods: 1,
  missingLocalPods: 0,
  snatEntries: 0,
  problems: [],
  ...over,
});

describe("egress health", () => {
  it("per policy: forwarding, dropping when every gateway is down, stale when only silent agents report it", async () => {
    await agents["dns-a"]!.agent.reportStatus({
      components: [
        {
          component: "egress",
          state: "ok",
          message: "2 policies",
          detail: {
            policies: [
              egressPolicy({}),
              egressPolicy({
                policy: "partner-out",
                mode: { ipv4: "drop", ipv6: null },
                activeGateway: null,
                egressIP: null,
                problems: ["no healthy gateway"],
              }),
            ],
            counters: {},
          },
        },
      ],
    });
    const viewer = await h.as("viewer");
    let o = await viewer.health.overview();
    expect(o.egress.policies).toEqual([
      { name: "billing-out", state: "forwarding", activeGateway: "dns-b", egressIP: "192.168.71.100" },
      { name: "partner-out", state: "dropping", activeGateway: null, egressIP: null },
    ]);
    await silence("dns-a");
    o = await viewer.health.overview();
    expect(o.egress.policies.map((p) => [p.name, p.state])).toEqual([
      ["billing-out", "stale"],
      ["partner-out", "stale"],
    ]);
    await agents["dns-a"]!.agent.heartbeat({ appliedRevision: 1 });
  });
});

const bgpDetail: BgpComponentDetail = {
  instances: [{ name: "fabric", localASN: 65001, routerID: "192.168.71.11", running: true, problems: [] }],
  running: true,
  peers: {
    "192.168.71.1": {
      name: "pe-rr",
      instance: "fabric",
      address: "192.168.71.1",
      peerASN: 65010,
      state: "Established",
      uptimeSeconds: 42,
      flaps: 0,
      prefixes: {
        "ipv4-unicast": { received: 5, accepted: 5, advertised: 1 },
        vpnv4: { received: 2, accepted: 2, advertised: 3 },
        vpnv6: { received: 0, accepted: 0, advertised: 1 },
      },
      configured: { families: ["ipv4-unicast", "vpnv4", "vpnv6"], md5: false, gracefulRestart: false },
      installRoutes: false,
      routesInstalled: 0,
      problems: [],
      prefixesReceived: 7,
      prefixesAccepted: 7,
      prefixesAdvertised: 5,
    },
  },
  problems: [],
};

describe("SRv6 VPN sites", () => {
  it("a VRF with routes in a fresh datapath is reachable, one without is 'no routes'; counters and exported routes add up", async () => {
    await agents["dns-a"]!.agent.reportStatus({
      components: [
        {
          component: "srv6",
          state: "ok",
          message: "2 VRF(s)",
          detail: {
            source: "fc00:0:100::1",
            locators: ["fc00:0:100::/48"],
            sids: [
              { sid: "fc00:0:100:a::", vrf: "red", behavior: "End.DT46" },
              { sid: "fc00:0:100:14::", vrf: "blue", behavior: "End.DT46" },
            ],
            vrfs: [
              { name: "red", vrfID: 10, members: 1, staticPolicies: 0, bgpPolicies: 2 },
              { name: "blue", vrfID: 20, members: 1, staticPolicies: 0, bgpPolicies: 0 },
            ],
            policies: [
              {
                vrf: "red",
                destination: "192.168.50.0/24",
                segments: ["fc00:0:2:e004::"],
                source: "bgp",
                peer: "pe-rr",
              },
              {
                vrf: "red",
                destination: "192.168.60.0/24",
                segments: ["fc00:0:2:e004::"],
                source: "bgp",
                peer: "pe-rr",
              },
            ],
            counters: { encapsulated: 120, decapsulated: 118, transit: 0, no_vrf_match: 3, bad_srh: 1 },
          },
        },
        { component: "bgp", state: "ok", message: "1 session up", detail: bgpDetail },
      ],
    });
    const viewer = await h.as("viewer");
    let o = await viewer.health.overview();
    expect(o.srv6.vrfs).toEqual([
      {
        name: "red",
        state: "reachable",
        nodesReporting: 1,
        nodesIntended: 1, // only dns-a has member pods, so only it is compiled the VRF
        members: 1,
        importedRoutes: 2,
        staticRoutes: 0,
        sites: ["192.168.50.0/24", "192.168.60.0/24"],
      },
      {
        name: "blue",
        state: "no routes",
        nodesReporting: 1,
        nodesIntended: 1, // only dns-a has member pods, so only it is compiled the VRF
        members: 1,
        importedRoutes: 0,
        staticRoutes: 0,
        sites: [],
      },
    ]);
    expect(o.srv6).toMatchObject({
      encapsulated: 120,
      decapsulated: 118,
      drops: 4,
      exportedRoutes: 4,
      nodesReporting: 1,
    });
    await silence("dns-a");
    o = await viewer.health.overview();
    expect(o.srv6.vrfs.map((v) => [v.name, v.state])).toEqual([
      ["red", "stale"],
      ["blue", "stale"],
    ]);
    expect(o.srv6).toMatchObject({ encapsulated: 0, drops: 0, exportedRoutes: 0, nodesReporting: 0 });
    await agents["dns-a"]!.agent.heartbeat({ appliedRevision: 1 });
  });
});

describe("drop counters per node and per endpoint", () => {
  it("flows.drops narrows to one node or one endpoint; dropsByEndpoint counts each endpoint asked", async () => {
    const flow = (endpoint: string, packets: number, suppressed = 0) => ({
      at: ago(30),
      source: "10.71.9.9",
      destination: "10.71.1.10",
      protocol: "tcp",
      port: 443,
      verdict: "dropped" as const,
      reason: "policy_default",
      direction: "ingress" as const,
      endpoint,
      ruleId: "default-deny",
      policies: ["shop/lockdown"],
      packets,
      bytes: packets * 60,
      suppressed,
    });
    await agents["dns-a"]!.agent.reportFlows({ flows: [flow("shop/web-1", 4, 6), flow("shop/blue-1", 2)] });
    await agents["dns-b"]!.agent.reportFlows({
      flows: [flow("shop/db-0", 5), { ...flow("shop/db-0", 9), verdict: "forwarded" as const }],
    });
    const viewer = await h.as("viewer");
    expect((await viewer.flows.drops({})).total).toBe(17);
    const a = await viewer.flows.drops({ node: "dns-a" });
    expect([a.total, a.byReason.map((r) => [r.reason, r.packets])]).toEqual([12, [["policy_default", 12]]]);
    expect((await viewer.flows.drops({ node: "dns-b" })).total).toBe(5);
    expect((await viewer.flows.drops({ node: "quiet-c" })).total).toBe(0);
    expect((await viewer.flows.drops({ node: "quiet-c" })).lastReportAt).toBeNull();
    const web = await viewer.flows.drops({ endpoint: "shop/web-1" });
    expect([web.total, web.topRules[0]?.ruleId]).toEqual([10, "default-deny"]);
    expect((await viewer.flows.drops({ minutes: 1, endpoint: "shop/web-1" })).total).toBe(10);
    const by = await viewer.flows.dropsByEndpoint({
      endpoints: ["shop/web-1", "shop/db-0", "shop/idle", "shop/web-1"],
    });
    expect(by.items).toEqual([
      { endpoint: "shop/web-1", packets: 10 },
      { endpoint: "shop/db-0", packets: 5 },
      { endpoint: "shop/idle", packets: 0 },
    ]);
  });
});
