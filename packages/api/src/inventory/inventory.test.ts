// Inventory apart from intent, over real HTTP and PostgreSQL: an agent's endpoint report makes no
// revision and no audit row; the node whose state it changes gets a delta (same revision, new
// content), and a node whose state it does not change hears nothing — also on a second API
// replica, which learns of the change by NOTIFY alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMeridianClient } from "../client";
import type { RunningServer } from "../server";
import { createHarness, type Harness } from "../test/harness";
import { type Replicas, startReplicas } from "../test/replicas";

let h: Harness;
let replicas: Replicas;
let serverA: RunningServer;
let serverB: RunningServer;

beforeAll(async () => {
  h = await createHarness();
  replicas = await startReplicas(h);
  ({ a: serverA, b: serverB } = replicas);
});
afterAll(async () => {
  await replicas?.close();
  await h?.close();
});

async function join(name: string, podCIDR: string, address: string) {
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: name });
  return createMeridianClient({ url: serverA.url }).agent.join.mutate({
    token: secret,
    nodeName: name,
    podCIDRs: [podCIDR],
    addresses: [address],
  });
}

type Event = { type: string; revision: number; contentHash: string; changed?: Record<string, unknown> };

function follow(url: string, credential: string) {
  const events: Event[] = [];
  const sub = createMeridianClient({ url, token: credential }).agent.desiredState.subscribe(
    {},
    { onData: (e) => events.push(((e as { data?: Event }).data ?? e) as Event) },
  );
  const until = async (pred: (e: Event) => boolean, timeoutMs = 10_000) => {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      const hit = events.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching event in ${timeoutMs} ms: ${JSON.stringify(events.map((e) => e.type))}`);
  };
  return { events, until, stop: () => sub.unsubscribe() };
}

describe("inventory apart from intent", () => {
  it("an endpoint report makes no revision; only the nodes whose state it changes hear of it", async () => {
    const web = await join("inv-web", "10.30.1.0/24", "192.168.30.1/24");
    const db = await join("inv-db", "10.30.2.0/24", "192.168.30.2/24");
    const idle = await join("inv-idle", "10.30.3.0/24", "192.168.30.3/24");
    // db's pods admit web's: db's node needs web's addresses in its ipcache; idle's does not.
    const op = await h.as("operator");
    await op.policies.create({
      namespace: "shop",
      name: "db-from-web",
      spec: {
        endpointSelector: { matchLabels: { app: "db" } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }],
      },
    });
    const dbAgent = createMeridianClient({ url: serverA.url, token: db.credential });
    await dbAgent.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "db-0", labels: { app: "db" }, ipv4: "10.30.2.5" }],
    });

    const onDb = follow(serverB.url, db.credential); // the other replica: NOTIFY only
    const onIdle = follow(serverA.url, idle.credential);
    const onWeb = follow(serverA.url, web.credential);
    const dbSnap = await onDb.until((e) => e.type === "snapshot");
    await onIdle.until((e) => e.type === "snapshot");
    const webSnap = await onWeb.until((e) => e.type === "snapshot");

    const revisions = await h.db.revision.count();
    const audit = await h.db.auditEntry.count();
    const webAgent = createMeridianClient({ url: serverA.url, token: web.credential });
    const reported = await webAgent.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "web-0", labels: { app: "web" }, ipv4: "10.30.1.7" }],
    });
    expect(reported.revision).toBeNull();
    expect(reported.endpoints[0]?.identity).toBeGreaterThanOrEqual(256);

    // The reporting node's own state gains the endpoint; db's gains web-0's address; both at the
    // revision they already had.
    const webDelta = await onWeb.until((e) => e.type === "delta");
    expect(webDelta.revision).toBe(webSnap.revision);
    expect(JSON.stringify(webDelta.changed)).toContain("10.30.1.7");
    const dbDelta = await onDb.until((e) => e.type === "delta");
    expect(dbDelta.revision).toBe(dbSnap.revision);
    expect(JSON.stringify(dbDelta.changed?.ipcache)).toContain("10.30.1.7/32");

    // No revision, no audit row: inventory is not what people changed.
    expect(await h.db.revision.count()).toBe(revisions);
    expect(await h.db.auditEntry.count()).toBe(audit);

    // The idle node heard nothing: wait until the db node's replica and this one have both moved
    // past the report (a later intent change reaches idle), then check nothing came before it.
    const marker = await op.policies.create({
      namespace: "other",
      name: "marker",
      spec: { endpointSelector: {} },
    });
    const idleNext = await onIdle.until((e) => e.revision >= marker.revision);
    expect(onIdle.events.filter((e) => e.type !== "snapshot")).toEqual([idleNext]);
    expect(idleNext.type).toBe("unchanged");
    onDb.stop();
    onIdle.stop();
    onWeb.stop();
  });

  it("removing a pod from the report removes it from the node's state, again without a revision", async () => {
    const n = await join("inv-churn", "10.30.9.0/24", "192.168.30.9/24");
    const agent = createMeridianClient({ url: serverA.url, token: n.credential });
    await agent.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "tmp-0", labels: { app: "tmp" }, ipv4: "10.30.9.5" }],
    });
    const f = follow(serverA.url, n.credential);
    const snap = await f.until((e) => e.type === "snapshot");
    expect(JSON.stringify(snap)).toContain("tmp-0");
    const revisions = await h.db.revision.count();
    await agent.agent.reportEndpoints.mutate({ endpoints: [] });
    const delta = await f.until((e) => e.type === "delta");
    expect(JSON.stringify(delta.changed?.endpoints)).not.toContain("tmp-0");
    expect(await h.db.endpoint.count({ where: { name: "tmp-0" } })).toBe(0);
    expect(await h.db.revision.count()).toBe(revisions);
    f.stop();
  });
});
