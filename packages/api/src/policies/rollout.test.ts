// After a save, on PostgreSQL: the pods a policy selects (the compiler's rule: its namespace, its
// selector, nothing when disabled) and which joined nodes have applied the revision that changed
// it, from the applied revision their heartbeats carry; a deleted policy is NOT_FOUND; and the
// revisions of a delete and an import name the objects.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
type Caller = Awaited<ReturnType<Harness["as"]>>;
let op: Caller;
const agents: Record<string, Caller> = {};

beforeAll(async () => {
  h = await createHarness();
  op = await h.as("operator");
  const admin = await h.as("admin");
  const anon = await h.anon();
  for (const [name, cidr] of [
    ["ro-n1", "10.61.0.0/24"],
    ["ro-n2", "10.62.0.0/24"],
  ] as const) {
    const jt = await admin.joinTokens.create({ nodeName: name });
    const joined = await anon.agent.join({ token: jt.secret, nodeName: name, podCIDRs: [cidr] });
    agents[name] = await h.withToken(joined.credential);
  }
  for (const [node, namespace, name, app, ipv4] of [
    ["ro-n1", "shop", "db-0", "db", "10.61.0.10"],
    ["ro-n2", "shop", "db-1", "db", "10.62.0.10"],
    ["ro-n1", "shop", "web-0", "web", "10.61.0.11"],
    ["ro-n2", "other", "db-9", "db", "10.62.0.12"],
  ] as const) {
    await op.endpoints.upsert({ node, namespace, name, labels: { app }, ipv4 });
  }
}, 60_000);
afterAll(() => h?.close());

describe("a saved policy's rollout", () => {
  it("names the pods it selects and says when every node has applied it", async () => {
    const p = await op.policies.create({
      namespace: "shop",
      name: "db-in",
      spec: { endpointSelector: { matchLabels: { app: "db" } }, ingress: [{ fromEndpoints: [{}] }] },
    });
    const before = await op.policies.rollout({ id: p.id });
    expect(before).toMatchObject({
      policy: "shop/db-in",
      enabled: true,
      revision: p.revision,
      everyNode: false,
    });
    // Its namespace only: other/db-9 has the label but is not selected.
    expect(before.selected).toEqual({
      total: 2,
      pods: [
        { namespace: "shop", name: "db-0", node: "ro-n1" },
        { namespace: "shop", name: "db-1", node: "ro-n2" },
      ],
    });
    expect(before.nodes.map((n) => [n.name, n.applied, n.appliedRevision])).toEqual([
      ["ro-n1", false, null],
      ["ro-n2", false, null],
    ]);

    // One node acknowledges the revision, the other an older one: not every node yet.
    await agents["ro-n1"]!.agent.heartbeat({ appliedRevision: p.revision! });
    await agents["ro-n2"]!.agent.heartbeat({ appliedRevision: p.revision! - 1 });
    const half = await op.policies.rollout({ id: p.id });
    expect(half.nodes.map((n) => [n.name, n.applied, n.stale])).toEqual([
      ["ro-n1", true, false],
      ["ro-n2", false, false],
    ]);
    expect(half.everyNode).toBe(false);
    await agents["ro-n2"]!.agent.heartbeat({ appliedRevision: p.revision! });
    expect((await op.policies.rollout({ id: p.id })).everyNode).toBe(true);

    // A change is a new revision, which no node has applied yet; disabled, it selects nothing.
    const u = await op.policies.update({
      id: p.id,
      version: p.version,
      enabled: false,
      spec: p.spec as never,
    });
    const changed = await op.policies.rollout({ id: p.id });
    expect(changed).toMatchObject({ revision: u.revision, enabled: false, everyNode: false });
    expect(changed.selected.total).toBe(0);
  });

  it("is NOT_FOUND for a deleted policy, and the delete's revision names it", async () => {
    const p = await op.policies.create({
      namespace: "shop",
      name: "short-lived",
      spec: { endpointSelector: { matchLabels: { app: "web" } } },
    });
    const d = await op.policies.delete({ id: p.id, version: p.version });
    expect((await errorOf(() => op.policies.rollout({ id: p.id }))).code).toBe("NOT_FOUND");
    const rev = await op.audit.get({ number: d.revision });
    expect(rev.message).toBe("delete network policy shop/short-lived");
  });

  it("names the objects an import created and updated in its revision", async () => {
    const yaml = (app: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: imported-a, namespace: shop }
spec:
  endpointSelector: { matchLabels: { app: ${app} } }
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: imported-b }
spec:
  endpointSelector: { matchLabels: { app: web } }
`;
    const first = await op.cilium.import({ yaml: yaml("web") });
    expect((await op.audit.get({ number: first.revision! })).message).toBe(
      "import 2 Cilium objects: created network policy shop/imported-a, network policy imported-b",
    );
    const second = await op.cilium.import({ yaml: yaml("db") });
    expect((await op.audit.get({ number: second.revision! })).message).toBe(
      "import 2 Cilium objects: updated network policy shop/imported-a",
    );
  });
});
