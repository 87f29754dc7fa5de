// egress.live against real PostgreSQL: what nodes' egress datapaths report, per policy, beside the
// stored policies; a node without the component is named as not enforcing anything.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../test/harness";

let h: Harness;
const credentials: Record<string, string> = {};

async function join(name: string, host: number, podCIDR: string) {
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: name });
  const anon = await h.anon();
  const joined = await anon.agent.join({
    token: secret,
    nodeName: name,
    addresses: [`192.168.70.${host}/24`],
    podCIDRs: [podCIDR],
    agentVersion: "test",
  });
  credentials[name] = joined.credential;
}

const policyReport = (over: Record<string, unknown>) => ({
  policy: "billing-out",
  role: "source",
  mode: { ipv4: "steer", ipv6: null },
  activeGateway: "gw-b",
  egressIP: "192.168.70.100",
  selectedLocalPods: 2,
  missingLocalPods: 0,
  snatEntries: 0,
  problems: [],
  ...over,
});

async function report(node: string, policies: Record<string, unknown>[]) {
  const agent = await h.withToken(credentials[node]!);
  await agent.agent.heartbeat({ appliedRevision: 1 });
  await agent.agent.reportStatus({
    components: [
      {
        component: "egress",
        state: "ok",
        message: `${policies.length} policies`,
        detail: { policies, counters: {} },
      },
    ],
  });
}

beforeAll(async () => {
  h = await createHarness();
  await join("src-a", 11, "10.70.1.0/24");
  await join("gw-b", 12, "10.70.2.0/24");
  await join("old-c", 13, "10.70.3.0/24");
  const op = await h.as("operator");
  await op.egress.create({
    name: "billing-out",
    spec: {
      selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
      destinationCIDRs: ["203.0.113.0/24"],
      gateways: [{ nodeName: "gw-b", egressIP: "192.168.70.100" }],
    },
  });
  await op.egress.create({
    name: "idle-out",
    spec: {
      selectors: [{ podSelector: { matchLabels: { app: "nothing" } } }],
      destinationCIDRs: ["198.51.100.0/24"],
      gateways: [{ nodeName: "gw-b" }],
    },
  });
});
afterAll(() => h.close());

describe("egress.live", () => {
  it("says no node enforces anything before any egress datapath reports", async () => {
    const live = await (await h.as("viewer")).egress.live();
    expect(live.nodesWithDatapath).toEqual([]);
    expect(live.nodesWithout).toEqual(["gw-b", "old-c", "src-a"]);
    expect(live.policies.map((p) => [p.name, p.state, p.nodes.length])).toEqual([
      ["billing-out", "not reported", 0],
      ["idle-out", "not reported", 0],
    ]);
  });

  it("puts each node's report beside its policy: steering source, SNATing gateway", async () => {
    await report("src-a", [policyReport({})]);
    await report("gw-b", [
      policyReport({
        role: "gateway",
        mode: { ipv4: "snat", ipv6: null },
        selectedLocalPods: 0,
        snatEntries: 7,
      }),
    ]);
    const live = await (await h.as("viewer")).egress.live();
    expect(live.nodesWithDatapath).toEqual(["gw-b", "src-a"]);
    expect(live.nodesWithout).toEqual(["old-c"]);
    const billing = live.policies.find((p) => p.name === "billing-out")!;
    expect(billing.state).toBe("forwarding");
    expect(billing.nodes.map((n) => [n.node, n.role, n.mode.ipv4, n.snatEntries, n.stale])).toEqual([
      ["gw-b", "gateway", "snat", 7, false],
      ["src-a", "source", "steer", 0, false],
    ]);
    expect(live.policies.find((p) => p.name === "idle-out")!.state).toBe("not reported");
  });

  it("calls a policy dropping when every node taking part drops for want of a gateway", async () => {
    await report("src-a", [
      policyReport({
        mode: { ipv4: "drop", ipv6: null },
        activeGateway: null,
        problems: ["no active gateway"],
      }),
    ]);
    await report("gw-b", []);
    const billing = (await (await h.as("viewer")).egress.live()).policies.find(
      (p) => p.name === "billing-out",
    )!;
    expect(billing.state).toBe("dropping");
    expect(billing.nodes).toMatchObject([
      { node: "src-a", activeGateway: null, problems: ["no active gateway"] },
    ]);
  });

  it("shows which gateway is active after a failover, who saw the gateway down, and the last failover", async () => {
    await join("gw-d", 14, "10.70.4.0/24");
    const failover = {
      at: "2026-12-02T20:00:00.400Z",
      from: "gw-b",
      to: "gw-d",
      reason: "timeout",
      durationMs: 412,
    };
    await report("src-a", [
      policyReport({
        activeGateway: "gw-d",
        intendedGateway: "gw-b",
        gateways: [
          { node: "gw-b", healthy: false, reason: "timeout", lastCheck: "2026-12-02T20:00:00.000Z" },
          { node: "gw-d", healthy: true, lastCheck: "2026-12-02T20:00:05.000Z" },
        ],
        failovers: 1,
        lastFailover: failover,
      }),
    ]);
    await report("gw-d", [
      policyReport({
        role: "gateway",
        mode: { ipv4: "snat", ipv6: null },
        activeGateway: "gw-d",
        intendedGateway: "gw-b",
        gateways: [
          { node: "gw-b", healthy: false, reason: "timeout" },
          { node: "gw-d", healthy: true },
        ],
        failovers: 1,
        lastFailover: { ...failover, at: "2026-12-02T20:00:00.380Z", durationMs: 390 },
      }),
    ]);
    const billing = (await (await h.as("viewer")).egress.live()).policies.find(
      (p) => p.name === "billing-out",
    )!;
    expect(billing).toMatchObject({
      state: "degraded",
      activeGateways: [{ gateway: "gw-d", nodes: ["gw-d", "src-a"] }],
      intendedGateway: "gw-b",
      gatewayHealth: [
        { node: "gw-b", healthy: false, downFrom: ["gw-d", "src-a"], reasons: ["timeout"] },
        { node: "gw-d", healthy: true, downFrom: [] },
      ],
      lastFailover: { node: "src-a", from: "gw-b", to: "gw-d", durationMs: 412 },
    });
    await report("gw-d", []);
  });

  it("shows a disabled policy as disabled, whatever a node last reported", async () => {
    const op = await h.as("operator");
    const p = (await op.egress.list({ search: "billing-out" })).items[0]!;
    await op.egress.update({ id: p.id, version: p.version, enabled: false });
    const billing = (await (await h.as("viewer")).egress.live()).policies.find(
      (x) => x.name === "billing-out",
    )!;
    expect(billing).toMatchObject({ state: "disabled", nodes: [] });
  });
});
