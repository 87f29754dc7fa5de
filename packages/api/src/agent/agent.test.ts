// The agent channel over real HTTP: join, snapshot, updates fanned out through LISTEN/NOTIFY
// across two API instances on one database, resume after a dropped connection, own-node rule.

import { applyDesiredStateEvent, type DesiredStateEvent, DesiredStateGapError } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMeridianClient } from "../client";
import type { RunningServer } from "../server";
import { createHarness, errorOf, type Harness } from "../test/harness";
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

let nextHost = 10;
async function joinNode(name: string, podCIDR: string) {
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: name });
  const anon = createMeridianClient({ url: serverA.url });
  return anon.agent.join.mutate({
    token: secret,
    nodeName: name,
    // Each node its own address: a join may not claim another node's.
    addresses: [`192.168.1.${nextHost++}/24`],
    podCIDRs: [podCIDR],
    agentVersion: "test",
  });
}

type Event = { type: string; revision: number; contentHash: string; state: unknown };

function follow(url: string, credential: string, input: Record<string, unknown> = {}) {
  const events: Event[] = [];
  const errors: unknown[] = [];
  const client = createMeridianClient({ url, token: credential });
  const sub = client.agent.desiredState.subscribe(input, {
    onData: (e) => events.push(((e as { data?: Event }).data ?? e) as Event),
    onError: (e) => errors.push(e),
  });
  const until = async (pred: (e: Event) => boolean, timeoutMs = 10_000) => {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (errors.length) throw errors[0];
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `no matching event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => [e.type, e.revision]))}`,
    );
  };
  return { events, errors, until, stop: () => sub.unsubscribe(), client };
}

describe("agent join", () => {
  it("a join token works once and yields a node credential that identifies the node", async () => {
    const admin = await h.as("admin");
    const { secret } = await admin.joinTokens.create({});
    const anon = await h.anon();
    const joined = await anon.agent.join({ token: secret, nodeName: "worker-1", podCIDRs: ["10.10.1.0/24"] });
    expect(joined.credential).toMatch(/^mrd_node_/);
    expect(await (await h.withToken(joined.credential)).auth.me()).toMatchObject({
      kind: "node",
      nodeName: "worker-1",
    });
    const again = await errorOf(() => anon.agent.join({ token: secret, nodeName: "worker-2" }));
    expect(again).toMatchObject({
      code: "UNAUTHORIZED",
      message: "join token is invalid, expired or already used",
    });
    const node = await h.db.node.findUniqueOrThrow({ where: { name: "worker-1" } });
    expect(node.joinState).toBe("joined");
    expect(node.credentialHash).not.toContain(joined.credential);
  });

  it("a token bound to a node name cannot join another node; an expired token cannot join at all", async () => {
    const admin = await h.as("admin");
    const anon = await h.anon();
    const bound = await admin.joinTokens.create({ nodeName: "rack-7" });
    expect((await errorOf(() => anon.agent.join({ token: bound.secret, nodeName: "rack-8" }))).code).toBe(
      "FORBIDDEN",
    );
    const old = await admin.joinTokens.create({});
    await h.db.joinToken.update({
      where: { id: old.joinToken.id },
      data: { expiresAt: new Date(Date.now() - 1) },
    });
    expect((await errorOf(() => anon.agent.join({ token: old.secret, nodeName: "rack-9" }))).code).toBe(
      "UNAUTHORIZED",
    );
  });

  it("a join token never takes over a joined node; after an admin revokes it, the node may join again", async () => {
    const admin = await h.as("admin");
    const anon = await h.anon();
    const real = await joinNode("node1", "10.10.50.0/24");
    // Any join token, unrestricted or scoped to this very node, is refused while node1 is joined.
    for (const token of [
      await admin.joinTokens.create({}),
      await admin.joinTokens.create({ nodeName: "node1" }),
    ]) {
      const err = await errorOf(() => anon.agent.join({ token: token.secret, nodeName: "node1" }));
      expect(err.code).toBe("CONFLICT");
      expect(err.message).toContain("node node1 is already joined; an admin must revoke its credential");
      // The refused join did not use the token up.
      expect(
        (await h.db.joinToken.findUniqueOrThrow({ where: { id: token.joinToken.id } })).usedAt,
      ).toBeNull();
    }
    // The real agent's credential still works.
    expect((await (await h.withToken(real.credential)).agent.heartbeat({})).ok).toBe(true);

    await admin.nodes.revokeCredential({ id: real.nodeId });
    const again = await anon.agent.join({
      token: (await admin.joinTokens.create({ nodeName: "node1" })).secret,
      nodeName: "node1",
      podCIDRs: ["10.99.0.0/24"],
    });
    expect(again.nodeId).toBe(real.nodeId);
    // What the node was registered with stays: a re-join does not let the agent move its PodCIDR.
    const node = await admin.nodes.get({ id: real.nodeId });
    expect(node.podCIDRs).toEqual(["10.10.50.0/24"]);
  });

  it("labels come from the admin, never from the agent's join", async () => {
    const admin = await h.as("admin");
    const anon = await h.anon();
    const registered = await admin.nodes.create({ name: "probe-node", labels: { rack: "r1" } });
    const token = await admin.joinTokens.create({ nodeName: "probe-node" });
    const err = await errorOf(() =>
      anon.agent.join({
        token: token.secret,
        nodeName: "probe-node",
        labels: { "meridian.io/bgp": "enabled" },
      }),
    );
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.fieldErrors?.labels?.[0]).toContain("labels are set by an admin");
    await anon.agent.join({ token: token.secret, nodeName: "probe-node" });
    expect((await admin.nodes.get({ id: registered.id })).labels).toEqual({ rack: "r1" });
  });

  it("a new node cannot claim another node's address or an address in a PodCIDR", async () => {
    const admin = await h.as("admin");
    const anon = await h.anon();
    await admin.nodes.create({ name: "owner", addresses: ["192.168.77.1/24"], podCIDRs: ["10.77.0.0/24"] });
    for (const [address, reason] of [
      ["192.168.77.1/24", "belongs to node owner"],
      ["10.77.0.9", "lies in PodCIDR 10.77.0.0/24 of node owner"],
    ] as const) {
      const token = await admin.joinTokens.create({});
      const err = await errorOf(() =>
        anon.agent.join({ token: token.secret, nodeName: "squatter", addresses: [address] }),
      );
      expect(err.fieldErrors?.["addresses.0"]?.[0]).toContain(reason);
    }
    expect(await h.db.node.count({ where: { name: "squatter" } })).toBe(0);
  });

  it("a node reports endpoints in its own PodCIDRs only", async () => {
    const j = await joinNode("reporter", "10.66.1.0/24");
    const agent = await h.withToken(j.credential);
    const err = await errorOf(() =>
      agent.agent.reportEndpoints({
        endpoints: [{ namespace: "shop", name: "db-0", labels: { app: "db" }, ipv4: "10.20.1.5" }],
      }),
    );
    expect(err.fieldErrors?.["endpoints.0.ipv4"]?.[0]).toBe(
      "10.20.1.5 is outside node reporter's PodCIDRs (10.66.1.0/24)",
    );
    expect(await h.db.endpoint.count({ where: { name: "db-0" } })).toBe(0);
  });

  it("a revoked node credential stops working", async () => {
    const j = await joinNode("doomed", "10.10.99.0/24");
    await (await h.as("admin")).nodes.revokeCredential({ id: j.nodeId });
    expect((await errorOf(async () => (await h.withToken(j.credential)).agent.heartbeat({}))).code).toBe(
      "UNAUTHORIZED",
    );
  });
});

describe("desired state over SSE", () => {
  it("snapshot first; a change made through replica B reaches the agent subscribed on replica A", async () => {
    const j = await joinNode("edge-1", "10.20.1.0/24");
    const agent = createMeridianClient({ url: serverA.url, token: j.credential });
    await agent.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "cart-0", labels: { app: "cart" }, ipv4: "10.20.1.5" }],
    });

    const f = follow(serverA.url, j.credential);
    const snap = await f.until((e) => e.type === "snapshot");
    expect(snap.state).toMatchObject({ node: { name: "edge-1" } });

    // The operator talks to replica B.
    const op = createMeridianClient({ url: serverB.url, token: h.tokens.operator });
    const p = await op.policies.create.mutate({
      namespace: "shop",
      name: "cart-ingress",
      spec: {
        endpointSelector: { matchLabels: { app: "cart" } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }],
      },
    });
    const upd = await f.until((e) => e.revision >= p.revision);
    expect(upd.type).toBe("delta");
    expect(upd.contentHash).not.toBe(snap.contentHash);
    // The delta carries only the sections that changed, and applying it gives exactly the
    // state a fresh subscriber gets.
    const delta = upd as unknown as DesiredStateEvent & { type: "delta" };
    expect(Object.keys(delta.changed)).toContain("endpoints");
    expect(Object.keys(delta.changed)).not.toContain("node");
    const applied = applyDesiredStateEvent(
      applyDesiredStateEvent(null, snap as unknown as DesiredStateEvent),
      delta,
    );
    const fresh = follow(serverB.url, j.credential);
    const freshSnap = await fresh.until((e) => e.type === "snapshot");
    expect(applied).toEqual(freshSnap.state);
    fresh.stop();
    f.stop();
  });

  it("resumes after a dropped connection without missing a revision", async () => {
    const j = await joinNode("edge-2", "10.20.2.0/24");
    const agent = createMeridianClient({ url: serverA.url, token: j.credential });
    await agent.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "pay-0", labels: { app: "pay" }, ipv4: "10.20.2.5" }],
    });
    const f1 = follow(serverA.url, j.credential);
    const snap = await f1.until((e) => e.type === "snapshot");
    f1.stop(); // connection dropped

    const op = await h.as("operator");
    const p = await op.policies.create({
      namespace: "shop",
      name: "pay-egress",
      spec: { endpointSelector: { matchLabels: { app: "pay" } }, egress: [{ toCIDR: ["203.0.113.0/24"] }] },
    });

    // Reconnect to the other replica with what the agent had applied.
    const f2 = follow(serverB.url, j.credential, {
      lastRevision: snap.revision,
      lastContentHash: snap.contentHash,
    });
    const first = await f2.until(() => true);
    expect(first.type).toBe("snapshot");
    expect(first.revision).toBeGreaterThanOrEqual(p.revision);
    expect(first.contentHash).not.toBe(snap.contentHash);
    f2.stop();

    // Resuming at the current revision with the same hash sends nothing stale.
    const f3 = follow(serverA.url, j.credential, {
      lastRevision: first.revision,
      lastContentHash: first.contentHash,
    });
    // The server has compiled f3's state once it reports an unrelated revision as "unchanged"; a
    // change made before that first compile is rightly a snapshot (the server never saw the
    // agent's sections), so wait for it before the change that must arrive as a delta.
    const unrelated = await op.policies.create({
      namespace: "elsewhere",
      name: "selects-nothing-here",
      spec: { endpointSelector: { matchLabels: { app: "nobody" } }, ingress: [] },
    });
    const quiet = await f3.until((e) => e.revision >= unrelated.revision!);
    expect(quiet.type).toBe("unchanged");
    // Barrier: a later change reaches f3; anything stale would have come before it.
    const changed = await op.policies.update({
      id: p.id,
      version: p.version,
      spec: { endpointSelector: { matchLabels: { app: "pay" } }, egress: [{ toCIDR: ["198.51.100.0/24"] }] },
    });
    const next = await f3.until((e) => e.revision >= changed.revision!);
    expect(f3.events).toEqual([quiet, next]);
    expect(next.type).toBe("delta");
    f3.stop();
  });

  it("a node credential reads and reports only for its own node", async () => {
    const j = await joinNode("edge-3", "10.20.3.0/24");
    const agent = await h.withToken(j.credential);
    const err = await errorOf(() => agent.agent.reportStatus({ nodeName: "edge-1", components: [] }));
    expect(err).toMatchObject({
      code: "FORBIDDEN",
      message: "this credential belongs to node edge-3, not edge-1",
    });
    const f = follow(serverA.url, j.credential, { nodeName: "edge-1" });
    await expect(f.until(() => false, 2000)).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    f.stop();
    // And it cannot use the console API.
    expect((await errorOf(() => agent.policies.list({}))).code).toBe("FORBIDDEN");
  });
});

describe("applying events", () => {
  it("a delta that does not fit the agent's state is refused, so a gap cannot go unnoticed", () => {
    const state = { contentHash: "h1", revision: 1 } as never;
    expect(() =>
      applyDesiredStateEvent(state, {
        type: "delta",
        revision: 3,
        contentHash: "h3",
        baseContentHash: "h2",
        changed: {},
      }),
    ).toThrow(DesiredStateGapError);
    expect(
      applyDesiredStateEvent(state, { type: "unchanged", revision: 2, contentHash: "h1" }),
    ).toMatchObject({ revision: 2, contentHash: "h1" });
  });
});

describe("status", () => {
  it("reports are stored per node and component and pushed to status.live", async () => {
    const j = await joinNode("edge-4", "10.20.4.0/24");
    const viewer = createMeridianClient({ url: serverB.url, token: h.tokens.viewer });
    const seen: {
      nodes: {
        name: string;
        components: { component: string; state: string }[];
        appliedRevision: number | null;
      }[];
    }[] = [];
    const sub = viewer.status.live.subscribe(undefined, { onData: (d) => seen.push(d as never) });
    const wait = async (pred: () => boolean) => {
      for (let i = 0; i < 250 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(pred()).toBe(true);
    };
    await wait(() => seen.length > 0);

    const agent = createMeridianClient({ url: serverA.url, token: j.credential });
    await agent.agent.reportStatus.mutate({
      appliedRevision: 3,
      components: [
        { component: "datapath", state: "ok" },
        { component: "bgp", state: "degraded", message: "peer 192.168.100.1 idle" },
      ],
    });
    await wait(() =>
      seen.some((s) =>
        s.nodes.some(
          (n) =>
            n.name === "edge-4" &&
            n.appliedRevision === 3 &&
            n.components.some((c) => c.component === "bgp" && c.state === "degraded"),
        ),
      ),
    );
    sub.unsubscribe();

    const rows = await h.db.nodeComponentStatus.findMany({
      where: { node: { name: "edge-4" } },
      orderBy: { component: "asc" },
    });
    expect(rows.map((r) => [r.component, r.state, r.message])).toEqual([
      ["bgp", "degraded", "peer 192.168.100.1 idle"],
      ["datapath", "ok", ""],
    ]);
    expect(
      (
        await agent.agent.reportDnsEvents.mutate({
          events: [
            { at: new Date(), qname: "api.example.com", answers: ["203.0.113.7"], verdict: "allowed" },
          ],
        })
      ).accepted,
    ).toBe(1);
    expect(
      (
        await agent.agent.reportFlows.mutate({
          flows: [
            {
              at: new Date(),
              source: "shop/cart-0",
              destination: "203.0.113.7",
              protocol: "TCP",
              port: 443,
              verdict: "forwarded",
              packets: 10,
              bytes: 1200,
            },
          ],
        })
      ).accepted,
    ).toBe(1);
    // A default-deny drop keeps the policies that enforce it, and what the datapath held back.
    const drop = {
      at: new Date(),
      source: "10.244.1.5",
      destination: "10.244.2.7",
      protocol: "tcp",
      port: 5432,
      verdict: "dropped" as const,
      reason: "policy_default",
      direction: "ingress" as const,
      endpoint: "shop/db-0",
      ruleId: "default-deny",
      policies: ["shop/db-allow-web"],
      packets: 3,
      bytes: 180,
      suppressed: 12,
    };
    // A flow report wakes the live status stream (the console's Flows page and drop tiles re-render).
    await h.feed.start();
    const woke = new Promise<string>((resolve) => {
      const off = h.feed.subscribeStatus((node) => {
        off();
        resolve(node);
      });
    });
    expect((await agent.agent.reportFlows.mutate({ flows: [drop] })).accepted).toBe(1);
    expect(await woke).toBe("edge-4");
    const stored = await h.db.flowSummary.findMany({ orderBy: { id: "desc" }, take: 1 });
    expect(stored[0]?.data).toMatchObject({
      verdict: "dropped",
      ruleId: "default-deny",
      policies: ["shop/db-allow-web"],
      direction: "ingress",
      endpoint: "shop/db-0",
      suppressed: 12,
    });
  });
});
