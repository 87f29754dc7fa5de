import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await (await h.as("admin")).nodes.create({ name: "n1", podCIDRs: ["10.1.0.0/24"] });
});
afterAll(() => h.close());

describe("endpoints and identities", () => {
  it("one identity per distinct label set (namespace included), from 256 up, stable across pods", async () => {
    const op = await h.as("operator");
    const a = await op.endpoints.upsert({
      node: "n1",
      namespace: "prod",
      name: "web-1",
      labels: { app: "web" },
      ipv4: "10.1.0.10",
    });
    const b = await op.endpoints.upsert({
      node: "n1",
      namespace: "prod",
      name: "web-2",
      labels: { "k8s:app": "web" },
      ipv4: "10.1.0.11",
    });
    const c = await op.endpoints.upsert({
      node: "n1",
      namespace: "dev",
      name: "web-1",
      labels: { app: "web" },
      ipv4: "10.1.0.12",
    });
    expect(a.identityNumber).toBeGreaterThanOrEqual(256);
    expect(b.identityNumber).toBe(a.identityNumber);
    expect(c.identityNumber).not.toBe(a.identityNumber);

    // Relabel, then label back: the original number comes back.
    const moved = await op.endpoints.upsert({
      node: "n1",
      namespace: "prod",
      name: "web-1",
      labels: { app: "api" },
      ipv4: "10.1.0.10",
      version: a.version,
    });
    expect(moved.identityNumber).not.toBe(a.identityNumber);
    const back = await op.endpoints.upsert({
      node: "n1",
      namespace: "prod",
      name: "web-1",
      labels: { app: "web" },
      ipv4: "10.1.0.10",
    });
    expect(back.identityNumber).toBe(a.identityNumber);

    const ids = await (await h.as("viewer")).identities.list({ label: "app=web" });
    expect(ids.items.map((i) => i.number).sort()).toEqual([a.identityNumber, c.identityNumber].sort());
    expect((await (await h.as("viewer")).endpoints.list({ namespace: "prod" })).total).toBe(2);
  });

  it("rejects an IPv6 address in the ipv4 field and an unknown node, by field", async () => {
    const op = await h.as("operator");
    const bad = await errorOf(() =>
      op.endpoints.upsert({ node: "n1", namespace: "prod", name: "x", ipv4: "fd00::1" }),
    );
    expect(Object.keys(bad.fieldErrors ?? {})).toEqual(["ipv4"]);
    const nope = await errorOf(() => op.endpoints.upsert({ node: "n9", namespace: "prod", name: "x" }));
    expect(nope.fieldErrors, nope.message).toEqual({ node: ["no node named n9"] });
  });

  it("lists the policies that select each endpoint, by the compiler's rule, when asked", async () => {
    const op = await h.as("operator");
    await op.endpoints.upsert({
      node: "n1",
      namespace: "sel",
      name: "api-0",
      labels: { app: "api" },
      ipv4: "10.1.0.40",
    });
    await op.endpoints.upsert({
      node: "n1",
      namespace: "sel",
      name: "db-0",
      labels: { app: "db" },
      ipv4: "10.1.0.41",
    });
    await op.policies.create({
      namespace: "sel",
      name: "api-in",
      spec: { endpointSelector: { matchLabels: { app: "api" } } },
    });
    // Same labels, other namespace: a namespaced policy stays in its own.
    await op.policies.create({
      namespace: "other",
      name: "api-elsewhere",
      spec: { endpointSelector: { matchLabels: { app: "api" } } },
    });
    await op.policies.create({ name: "everyone", spec: { endpointSelector: {} } });
    await op.policies.create({
      namespace: "sel",
      name: "off",
      enabled: false,
      spec: { endpointSelector: {} },
    });
    const viewer = await h.as("viewer");
    const list = await viewer.endpoints.list({ namespace: "sel", selectedBy: true });
    const by = Object.fromEntries(list.items.map((e) => [e.name, (e.selectedBy ?? []).map((p) => p.name)]));
    expect(by).toEqual({ "api-0": ["everyone", "sel/api-in"], "db-0": ["everyone"] });
    expect((await viewer.endpoints.list({ namespace: "sel" })).items[0]?.selectedBy).toBeUndefined();
  });
});
