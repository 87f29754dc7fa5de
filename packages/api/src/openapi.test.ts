// REST for non-TypeScript automation: the same procedures under /api/v1 with a bearer token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "./server";
import { createHarness, type Harness } from "./test/harness";

let h: Harness;
let server: RunningServer;
beforeAll(async () => {
  h = await createHarness();
  server = await startServer({ db: h.db, changeFeed: h.feed });
});
afterAll(async () => {
  await server.close();
  await h.close();
});

const auth = (role: "operator" | "viewer") => ({
  authorization: `Bearer ${h.tokens[role]}`,
  "content-type": "application/json",
});

describe("REST /api/v1", () => {
  it("serves an OpenAPI document listing the operations", async () => {
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths["/network-policies"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/bgp/peers/{id}"] ?? {}).sort()).toEqual(["delete", "get", "patch"]);
  });

  it("writes and reads a policy over plain HTTP with a token; errors name the field", async () => {
    const created = await fetch(`${server.url}/api/v1/network-policies`, {
      method: "POST",
      headers: auth("operator"),
      body: JSON.stringify({
        namespace: "prod",
        name: "from-curl",
        spec: { endpointSelector: { matchLabels: { app: "api" } } },
      }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const body = (await created.json()) as { id: string; version: number; revision: number };
    expect(body.version).toBe(1);

    const list = await fetch(`${server.url}/api/v1/network-policies?namespace=prod&enabled=true`, {
      headers: auth("viewer"),
    });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: { name: string }[] }).items.map((p) => p.name)).toEqual([
      "from-curl",
    ]);

    const bad = await fetch(`${server.url}/api/v1/network-policies`, {
      method: "POST",
      headers: auth("operator"),
      body: JSON.stringify({
        namespace: "prod",
        name: "bad",
        spec: { endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.1/8"] }] },
      }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("host bits set in 10.0.0.1/8");

    const forbidden = await fetch(`${server.url}/api/v1/network-policies/${body.id}`, {
      method: "DELETE",
      headers: auth("viewer"),
    });
    expect(forbidden.status).toBe(403);
    const anonymous = await fetch(`${server.url}/api/v1/network-policies`);
    expect(anonymous.status).toBe(401);
  });
});

describe("raw tRPC HTTP", () => {
  it("a batch is authorised per procedure: the viewer's write fails while its read succeeds", async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: { json: {} }, 1: { json: {} } }));
    const res = await fetch(`${server.url}/api/trpc/policies.list,users.list?batch=1&input=${input}`, {
      headers: auth("viewer"),
    });
    const out = (await res.json()) as { result?: unknown; error?: { json: { data: { code: string } } } }[];
    expect(out[0]?.result).toBeDefined();
    expect(out[1]?.error?.json.data.code).toBe("FORBIDDEN");
  });

  it("validation errors carry fieldErrors keyed by path", async () => {
    const res = await fetch(`${server.url}/api/trpc/policies.create`, {
      method: "POST",
      headers: auth("operator"),
      body: JSON.stringify({ json: { namespace: "x", name: "Bad Name!", spec: { endpointSelector: {} } } }),
    });
    const out = (await res.json()) as {
      error: { json: { data: { fieldErrors: Record<string, string[]> } } };
    };
    expect(Object.keys(out.error.json.data.fieldErrors)).toEqual(["name"]);
  });
});
