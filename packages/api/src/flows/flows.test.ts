// Flow records on PostgreSQL: what agents report is found again over a time range with filters
// (verdict, rule, policy, endpoint, address, node), newest first; old rows go with the retention;
// the export speaks Hubble's field names.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";
import { dropSummary, explainFlow, flowRetentionMs, pruneFlows, queryFlows, toHubbleJson } from "./service";

let h: Harness;
let nodeId = "";
const T0 = new Date("2026-12-01T10:00:00.000Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);

beforeAll(async () => {
  h = await createHarness();
  const node = await h.db.node.create({ data: { name: "flows-n1" } });
  nodeId = node.id;
  const rows = [
    {
      at: at(0),
      data: {
        source: "10.0.1.5",
        destination: "10.0.2.7",
        protocol: "tcp",
        port: 5432,
        verdict: "dropped",
        reason: "policy_default",
        direction: "ingress",
        endpoint: "shop/db-0",
        ruleId: "default-deny",
        policies: ["shop/db-allow-web", "shop/lockdown"],
        packets: 3,
        bytes: 180,
        suppressed: 7,
      },
    },
    {
      at: at(15),
      data: {
        source: "10.0.1.9",
        destination: "10.0.2.7",
        protocol: "tcp",
        port: 5432,
        verdict: "forwarded",
        direction: "ingress",
        endpoint: "shop/db-0",
        ruleId: "shop/db-allow-web/ingress[0]",
        policies: ["shop/db-allow-web"],
        packets: 1,
        bytes: 60,
      },
    },
    {
      at: at(30),
      data: {
        source: "10.0.2.7",
        destination: "192.0.2.1",
        protocol: "udp",
        port: 53,
        verdict: "dropped",
        reason: "policy_deny",
        direction: "egress",
        endpoint: "shop/db-0",
        ruleId: "shop/no-dns/egressDeny[0]",
        policies: ["shop/no-dns"],
        packets: 2,
        bytes: 120,
      },
    },
    // Reported before this change: no rule fields at all.
    {
      at: at(45),
      data: {
        source: "10.0.1.1",
        destination: "10.0.2.2",
        protocol: "tcp",
        port: 80,
        verdict: "forwarded",
        packets: 1,
        bytes: 60,
      },
    },
  ];
  await h.db.flowSummary.createMany({ data: rows.map((r) => ({ nodeId, ...r })) });
  // The other end of the default-deny drop is a pod the inventory knows; one policy it names exists.
  const identity = await h.db.identity.create({ data: { labelsKey: "app=web", labels: { app: "web" } } });
  await h.db.endpoint.create({
    data: { nodeId, namespace: "shop", name: "web-1", ipv4: "10.0.1.5", identityNumber: identity.number },
  });
  await h.db.networkPolicy.createMany({
    data: [
      { namespace: "shop", name: "db-allow-web", spec: { endpointSelector: {}, ingress: [{}] } },
      {
        namespace: "shop",
        name: "no-dns",
        spec: { endpointSelector: {}, egressDeny: [{ toCIDR: ["192.0.2.1/32"] }] },
      },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

const q = (over: Partial<Parameters<typeof queryFlows>[1]> = {}) =>
  queryFlows(h.db, { from: at(0), to: at(60), limit: 100, ...over });

describe("flow records", () => {
  it("come back newest first over the range asked for", async () => {
    expect((await q()).map((r) => r.at.toISOString())).toEqual(
      [at(45), at(30), at(15), at(0)].map((d) => d.toISOString()),
    );
    expect((await q({ from: at(10), to: at(40) })).map((r) => r.port)).toEqual([53, 5432]);
    expect(await q({ limit: 1 })).toHaveLength(1);
  });

  it("filter by verdict, reason, rule, policy, endpoint, address and node", async () => {
    const ids = async (over: Parameters<typeof q>[0]) =>
      (await q(over)).map((r) => r.at.getTime() - T0.getTime());
    expect(await ids({ verdict: "dropped" })).toEqual([30_000, 0]);
    expect(await ids({ reason: "policy_default" })).toEqual([0]);
    expect(await ids({ ruleId: "default-deny" })).toEqual([0]);
    expect(await ids({ policy: "shop/db-allow-web" })).toEqual([15_000, 0]);
    expect(await ids({ policy: "shop/lockdown" })).toEqual([0]);
    expect(await ids({ endpoint: "shop/db-0", verdict: "forwarded" })).toEqual([15_000]);
    expect(await ids({ ip: "192.0.2.1" })).toEqual([30_000]);
    expect(await ids({ ip: "10.0.2.7", verdict: "dropped" })).toEqual([30_000, 0]);
    expect(await ids({ node: "flows-n1" })).toHaveLength(4);
    expect(await ids({ node: "elsewhere" })).toEqual([]);
  });

  it("name a default deny's policies, the held-back count, and default the fields older rows lack", async () => {
    const [deny] = await q({ ruleId: "default-deny" });
    expect(deny).toMatchObject({
      node: "flows-n1",
      verdict: "dropped",
      direction: "ingress",
      endpoint: "shop/db-0",
      policies: ["shop/db-allow-web", "shop/lockdown"],
      packets: 3,
      suppressed: 7,
    });
    const [old] = await q({ from: at(45) });
    expect(old).toMatchObject({ policies: [], suppressed: 0, verdict: "forwarded" });
    expect(old?.ruleId).toBeUndefined();
  });

  it("export in Hubble's field names", async () => {
    const [deny] = await q({ ruleId: "default-deny" });
    expect(toHubbleJson(deny!)).toMatchObject({
      flow: {
        time: T0.toISOString(),
        verdict: "DROPPED",
        drop_reason_desc: "POLICY_DEFAULT",
        IP: { source: "10.0.1.5", destination: "10.0.2.7", ipVersion: "IPv4" },
        l4: { TCP: { destination_port: 5432 } },
        destination: { namespace: "shop", pod_name: "db-0" },
        traffic_direction: "INGRESS",
        node_name: "flows-n1",
        ingress_denied_by: [
          { namespace: "shop", name: "db-allow-web" },
          { namespace: "shop", name: "lockdown" },
        ],
      },
    });
    const [egress] = await q({ ip: "192.0.2.1" });
    expect(toHubbleJson(egress!).flow).toMatchObject({
      l4: { UDP: { destination_port: 53 } },
      egress_denied_by: [{ namespace: "shop", name: "no-dns" }],
    });
  });

  it("filter by the local endpoint's namespace and pod name", async () => {
    expect(await q({ namespace: "shop" })).toHaveLength(3);
    expect(await q({ namespace: "sho" })).toEqual([]);
    expect((await q({ pod: "db-0", verdict: "dropped" })).map((r) => r.port)).toEqual([53, 5432]);
    expect(await q({ pod: "db" })).toEqual([]);
  });

  it("name the pod at each end: the local endpoint, and the other end by its address", async () => {
    const [deny] = await q({ ruleId: "default-deny" });
    expect(deny).toMatchObject({ sourcePod: "shop/web-1", destinationPod: "shop/db-0" });
    const [egress] = await q({ ip: "192.0.2.1" });
    expect(egress).toMatchObject({ sourcePod: "shop/db-0" });
    expect(egress?.destinationPod).toBeUndefined();
  });

  it("sum drops by reason and by deciding rule, counting what the rate limit held back", async () => {
    const s = await dropSummary(h.db, at(0), at(60));
    expect(s.total).toBe(12);
    expect(s.byReason).toEqual([
      { reason: "policy_default", words: expect.stringContaining("default deny"), packets: 10 },
      { reason: "policy_deny", words: "an explicit deny rule matched", packets: 2 },
    ]);
    expect(s.topRules).toEqual([
      { ruleId: "default-deny", policies: ["shop/db-allow-web", "shop/lockdown"], packets: 10 },
      { ruleId: "shop/no-dns/egressDeny[0]", policies: ["shop/no-dns"], packets: 2 },
    ]);
    expect(s.lastReportAt?.toISOString()).toBe(at(45).toISOString());
    const later = await dropSummary(h.db, at(10), at(60));
    expect(later.byReason.map((r) => r.reason)).toEqual(["policy_deny"]);
  });

  it("explain a default deny by the policies that enforce it, linking the ones that exist", async () => {
    const [deny] = await q({ ruleId: "default-deny" });
    const e = await explainFlow(h.db, BigInt(deny!.id));
    expect(e?.byPolicy).toBe(true);
    expect(e?.summary).toBe(
      "shop/db-0 is under default deny for ingress because policies shop/db-allow-web, shop/lockdown select it, and no ingress rule of the policies that select it allows shop/web-1 on TCP port 5432.",
    );
    expect(e?.policies).toEqual([
      { ref: "shop/db-allow-web", id: expect.any(String), enabled: true },
      { ref: "shop/lockdown", id: null, enabled: false },
    ]);
    expect(e?.rule).toBeUndefined();
  });

  it("explain a deny rule's drop by the rule as its policy spells it", async () => {
    const [drop] = await q({ reason: "policy_deny" });
    const e = await explainFlow(h.db, BigInt(drop!.id));
    expect(e?.summary).toBe(
      "Deny rule shop/no-dns/egressDeny[0] of policy shop/no-dns matches 192.0.2.1 on UDP port 53; a deny rule wins over every allow rule.",
    );
    expect(e?.policies.map((p) => p.ref)).toEqual(["shop/no-dns"]);
    expect(e?.rule).toEqual({
      ruleId: "shop/no-dns/egressDeny[0]",
      kind: "egressDeny",
      index: 0,
      spec: { toCIDR: ["192.0.2.1/32"] },
    });
  });

  it("answer not found, naming the record, for one that is gone; refuse ids that are no number", async () => {
    const viewer = await h.as("viewer");
    expect(await errorOf(() => viewer.flows.explain({ id: "999999" }))).toMatchObject({
      code: "NOT_FOUND",
      message: "flow record 999999 not found",
    });
    expect((await errorOf(() => viewer.flows.explain({ id: "1 OR 1=1" }))).fieldErrors).toEqual({
      id: ["id must be a flow record number"],
    });
    expect(
      (await errorOf(() => viewer.flows.query({ namespace: "Shop!" }))).fieldErrors?.namespace?.[0],
    ).toMatch(/lower-case/);
    const drops = await viewer.flows.drops({ minutes: 15 });
    expect(drops.to.getTime() - drops.from.getTime()).toBe(15 * 60_000);
  });

  it("are kept for the retention and no longer", async () => {
    expect(flowRetentionMs({})).toBe(24 * 3_600_000);
    expect(flowRetentionMs({ MERIDIAN_FLOW_RETENTION_HOURS: "2" })).toBe(2 * 3_600_000);
    expect(flowRetentionMs({ MERIDIAN_FLOW_RETENTION_HOURS: "100000" })).toBe(90 * 24 * 3_600_000);
    // 40 s of retention, 60 s after T0: the rows of 0 s and 15 s go, 30 s and 45 s stay.
    expect(await pruneFlows(h.db, 40_000, at(60))).toBe(2);
    expect((await q()).map((r) => r.port)).toEqual([80, 53]);
  });
});
