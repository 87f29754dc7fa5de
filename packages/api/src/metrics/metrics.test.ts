// The control plane's /metrics over real HTTP on PostgreSQL: refused without a token (401) and to a
// node credential (403); after real calls it counts them by procedure and code with their
// latency, counts the agent stream held open (and not once it closes), says how far a node's
// applied revision lags and for how long, and shows the database pool in use.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMeridianClient } from "../client";
import { type RunningServer, startServer } from "../server";
import { createHarness, type Harness } from "../test/harness";

let h: Harness;
let server: RunningServer;

beforeAll(async () => {
  h = await createHarness();
  server = await startServer({ db: h.db, changeFeed: h.feed });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await h?.close();
});

const scrape = async (token?: string) => {
  const r = await fetch(
    `${server.url}/metrics`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  return { status: r.status, type: r.headers.get("content-type"), text: await r.text() };
};

/** One sample's value (labels as written by prom-client, in its order); 0 when absent. */
function sample(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

describe("control-plane /metrics", () => {
  it("needs an API token or a session: 401 without, 403 for a node credential", async () => {
    const anon = await scrape();
    expect(anon.status).toBe(401);
    expect(anon.text).not.toContain("meridian_api");
    const admin = await h.as("admin");
    const jt = await admin.joinTokens.create({ nodeName: "m-node" });
    const joined = await (await h.anon()).agent.join({
      token: jt.secret,
      nodeName: "m-node",
      podCIDRs: ["10.66.0.0/24"],
    });
    expect((await scrape(joined.credential)).status).toBe(403);
    const viewer = await scrape(h.tokens.viewer);
    expect(viewer.status).toBe(200);
    expect(viewer.type).toContain("text/plain");
  });

  it("counts real calls by procedure and code, with their latency, the open agent stream, the lag and the pool", async () => {
    const before = (await scrape(h.tokens.viewer)).text;
    const ok = 'procedure="policies.list",type="query",code="OK"';
    const client = createMeridianClient({ url: server.url, token: h.tokens.operator });
    for (let i = 0; i < 3; i++) await client.policies.list.query({});
    await client.policies.get.query({ id: "00000000-0000-4000-8000-000000000000" }).catch(() => undefined);
    // REST reaches the same procedure.
    const rest = await fetch(`${server.url}/api/v1/network-policies`, {
      headers: { authorization: `Bearer ${h.tokens.viewer}` },
    });
    expect(rest.status).toBe(200);

    // An agent holds its desired-state stream open while it is scraped.
    const admin = await h.as("admin");
    const jt = await admin.joinTokens.create({ nodeName: "m-node-2" });
    const joined = await (await h.anon()).agent.join({
      token: jt.secret,
      nodeName: "m-node-2",
      podCIDRs: ["10.67.0.0/24"],
    });
    const agent = createMeridianClient({ url: server.url, token: joined.credential });
    let events = 0;
    const sub = agent.agent.desiredState.subscribe({}, { onData: () => events++ });
    const deadline = Date.now() + 10_000;
    while (events === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(events).toBeGreaterThan(0);

    // It applied an old revision, and a change follows: it is behind, for as long as that change is old.
    await agent.agent.heartbeat.mutate({ appliedRevision: 0 });
    await client.policies.create.mutate({
      namespace: "m",
      name: "lag",
      spec: { endpointSelector: { matchLabels: { app: "x" } } },
    });
    await new Promise((r) => setTimeout(r, 1_100));

    const after = (await scrape(h.tokens.viewer)).text;
    const delta = (name: string, labels: string) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta("meridian_api_requests_total", ok)).toBe(4);
    expect(
      delta("meridian_api_requests_total", 'procedure="policies.get",type="query",code="NOT_FOUND"'),
    ).toBe(1);
    expect(
      delta("meridian_api_request_duration_seconds_count", 'procedure="policies.list",type="query"'),
    ).toBe(4);
    expect(
      sample(after, "meridian_api_request_duration_seconds_sum", 'procedure="policies.list",type="query"'),
    ).toBeGreaterThan(0);
    expect(after).toContain(
      'meridian_api_request_duration_seconds_bucket{le="0.005",procedure="policies.list",type="query"}',
    );
    expect(sample(after, "meridian_api_connected_agents")).toBe(1);
    expect(sample(after, "meridian_api_latest_revision")).toBeGreaterThan(0);
    expect(sample(after, "meridian_api_nodes_behind")).toBe(1);
    expect(sample(after, "meridian_api_propagation_lag_seconds")).toBeGreaterThanOrEqual(1);
    expect(sample(after, "meridian_api_db_pool_max_connections")).toBeGreaterThan(0);
    expect(sample(after, "meridian_api_db_pool_connections", 'state="total"')).toBeGreaterThanOrEqual(1);
    expect(after).toContain('meridian_api_db_pool_connections{state="waiting"}');

    // Caught up, nothing lags; the stream closed, no agent is connected.
    const latest = sample(after, "meridian_api_latest_revision");
    await agent.agent.heartbeat.mutate({ appliedRevision: latest });
    sub.unsubscribe();
    const closedBy = Date.now() + 10_000;
    let last = "";
    while (Date.now() < closedBy) {
      last = (await scrape(h.tokens.viewer)).text;
      if (sample(last, "meridian_api_connected_agents") === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sample(last, "meridian_api_connected_agents")).toBe(0);
    expect(sample(last, "meridian_api_nodes_behind")).toBe(0);
    expect(sample(last, "meridian_api_propagation_lag_seconds")).toBe(0);
  }, 60_000);
});
