// srv6.overview on real PostgreSQL: each VRF's compiled SID per node beside the SID, policies and
// counters the node's agent reports (agent.reportStatus, component srv6), and a node whose agent
// never reported shown as such rather than as empty or healthy.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../test/harness";

let h: Harness;
let agent: Awaited<ReturnType<Harness["withToken"]>>;

beforeAll(async () => {
  h = await createHarness();
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: "pe-1" });
  const { credential } = await (await h.anon()).agent.join({
    token: secret,
    nodeName: "pe-1",
    podCIDRs: ["10.62.1.0/24"],
  });
  agent = await h.withToken(credential);
  await admin.nodes.create({ name: "pe-2", podCIDRs: ["10.62.2.0/24"] });
  const op = await h.as("operator");
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
  await op.srv6.policies.create({
    name: "to-site",
    spec: { vrf: "red", destination: "192.168.50.0/24", segments: ["fc00:0:2:e004::"] },
  });
  await agent.agent.reportEndpoints({
    endpoints: [{ namespace: "shop", name: "red-1", labels: { vpn: "red" }, ipv4: "10.62.1.10" }],
  });
  const pe2 = await h.db.node.findUniqueOrThrow({ where: { name: "pe-2" } });
  const identity = await h.db.identity.findFirstOrThrow();
  await h.db.endpoint.create({
    data: {
      nodeId: pe2.id,
      namespace: "shop",
      name: "red-2",
      labels: { vpn: "red" },
      ipv4: "10.62.2.10",
      identityNumber: identity.number,
    },
  });
});
afterAll(async () => {
  await h?.close();
});

describe("srv6.overview", () => {
  it("before any report: the intent per node, and 'not reported' for the agents", async () => {
    const o = await (await h.as("viewer")).srv6.overview();
    expect(o.nodes.map((n) => [n.name, n.reported, n.state, n.message, n.locators])).toEqual([
      ["pe-1", false, "unknown", "no SRv6 status reported by this node's agent", ["fc00:0:100::/48"]],
      ["pe-2", false, "unknown", "no SRv6 status reported by this node's agent", ["fc00:0:101::/48"]],
    ]);
    expect(o.vrfs[0]!.nodes).toEqual([
      { node: "pe-1", sid: "fc00:0:100:a::", members: 1, reported: null },
      { node: "pe-2", sid: "fc00:0:101:a::", members: 1, reported: null },
    ]);
    expect(o.staticPolicies).toEqual([{ name: "to-site", installedOn: [] }]);
  });

  it("shows what the agent reports beside the intent: SID, policies, counters and drops per reason", async () => {
    await agent.agent.reportStatus({
      components: [
        {
          component: "srv6",
          state: "ok",
          message: "1 VRF(s)",
          detail: {
            source: "fc00:0:100::1",
            locators: ["fc00:0:100::/48"],
            sids: [{ sid: "fc00:0:100:a::", vrf: "red", behavior: "End.DT46" }],
            vrfs: [{ name: "red", vrfID: 10, members: 1, staticPolicies: 1, bgpPolicies: 1 }],
            policies: [
              { vrf: "red", destination: "192.168.50.0/24", segments: ["fc00:0:2:e004::"], source: "static" },
              {
                vrf: "red",
                destination: "192.168.60.0/24",
                segments: ["fc00:0:3:e004::"],
                source: "bgp",
                peer: "pe-rr",
                rd: "65020:7",
              },
            ],
            exported: [
              {
                vrf: "red",
                prefix: "10.1.0.10/32",
                routeDistinguisher: "65001:10",
                routeTargets: ["65001:110"],
                sid: "fc00:0:100:a::",
              },
            ],
            counters: {
              encapsulated: 120,
              decapsulated: 118,
              transit: 0,
              no_vrf_match: 3,
              oversize: 0,
              bad_srh: 1,
            },
          },
        },
      ],
    });
    const o = await (await h.as("viewer")).srv6.overview();
    const pe1 = o.nodes.find((n) => n.name === "pe-1")!;
    expect(pe1).toMatchObject({
      reported: true,
      state: "ok",
      reportedLocators: ["fc00:0:100::/48"],
      source: "fc00:0:100::1",
      forwarded: [
        { name: "encapsulated", packets: 120 },
        { name: "decapsulated", packets: 118 },
        { name: "transit", packets: 0 },
      ],
      drops: [
        { reason: "no_vrf_match", packets: 3 },
        { reason: "bad_srh", packets: 1 },
        { reason: "oversize", packets: 0 },
      ],
    });
    expect(o.vrfs[0]!.nodes).toEqual([
      {
        node: "pe-1",
        sid: "fc00:0:100:a::",
        members: 1,
        reported: { sid: "fc00:0:100:a::", members: 1, staticPolicies: 1, bgpPolicies: 1 },
      },
      { node: "pe-2", sid: "fc00:0:101:a::", members: 1, reported: null },
    ]);
    expect(o.vrfs[0]!.policies.map((p) => `${p.node} ${p.destination} ${p.source} ${p.peer ?? "-"}`)).toEqual(
      ["pe-1 192.168.50.0/24 static -", "pe-1 192.168.60.0/24 bgp pe-rr"],
    );
    // A BGP-learned policy names the peer, RD and SID it came from; the exports are listed per VRF.
    expect(o.vrfs[0]!.policies[1]).toMatchObject({
      rd: "65020:7",
      segments: ["fc00:0:3:e004::"],
      stale: false,
    });
    expect(o.vrfs[0]!.exported).toEqual([
      {
        node: "pe-1",
        prefix: "10.1.0.10/32",
        routeDistinguisher: "65001:10",
        routeTargets: ["65001:110"],
        sid: "fc00:0:100:a::",
      },
    ]);
    expect(o.staticPolicies).toEqual([{ name: "to-site", installedOn: ["pe-1"] }]);
    expect(o.nodes.find((n) => n.name === "pe-2")!.reported).toBe(false);
  });
});
