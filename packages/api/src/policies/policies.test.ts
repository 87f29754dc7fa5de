import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const spec = {
  endpointSelector: { matchLabels: { app: "web" } },
  egress: [
    {
      toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] }],
      toPorts: [{ ports: [{ port: "443", protocol: "TCP" as const }] }],
    },
  ],
};

describe("network policies", () => {
  it("create, read, list with filters and pagination, update, delete — each a new revision", async () => {
    const op = await h.as("operator");
    const viewer = await h.as("viewer");
    const a = await op.policies.create({ namespace: "prod", name: "web-egress", spec });
    const b = await op.policies.create({
      namespace: "prod",
      name: "db-ingress",
      spec: { endpointSelector: {} },
      enabled: false,
    });
    await op.policies.create({ namespace: "", name: "cluster-dns", spec: { endpointSelector: {} } });
    expect(b.revision).toBe(a.revision + 1);

    expect((await viewer.policies.get({ id: a.id })).spec.egress?.[0]?.toCIDRSet?.[0]?.except).toEqual([
      "10.1.0.0/16",
    ]);
    const prod = await viewer.policies.list({ namespace: "prod" });
    expect(prod.total).toBe(2);
    expect(prod.items.map((p) => p.name)).toEqual(["db-ingress", "web-egress"]);
    expect((await viewer.policies.list({ enabled: false })).items.map((p) => p.name)).toEqual(["db-ingress"]);
    const page = await viewer.policies.list({ limit: 1, offset: 1 });
    expect(page).toMatchObject({ total: 3, items: [{ name: "db-ingress" }] });

    const upd = await op.policies.update({ id: a.id, version: a.version, enabled: false, message: "pause" });
    expect(upd).toMatchObject({
      version: 2,
      enabled: false,
      updatedBy: "operator@test.local (token operator token)",
    });
    await op.policies.delete({ id: b.id, version: b.version });
    expect((await errorOf(() => viewer.policies.get({ id: b.id }))).code).toBe("NOT_FOUND");
  });

  it("rejects a CIDR with host bits set, naming the field and the fix", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.policies.create({
        namespace: "prod",
        name: "bad",
        spec: { endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.1/8"] }] },
      }),
    );
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.fieldErrors).toEqual({
      "spec.egress.0.toCIDR.0": ["host bits set in 10.0.0.1/8, did you mean 10.0.0.0/8"],
    });
  });

  it("accepts FQDN patterns with * and a leading **., and names a misplaced ** by field", async () => {
    const op = await h.as("operator");
    const fqdn = (matchPattern: string) => ({
      endpointSelector: {},
      egress: [
        {
          toFQDNs: [{ matchName: "api.example.com" }, { matchPattern }],
          toPorts: [{ ports: [{ port: "443", protocol: "TCP" as const }] }],
        },
      ],
    });
    const ok = await op.policies.create({ namespace: "fq", name: "ok", spec: fqdn("**.cdn.example.com") });
    expect(ok.spec.egress?.[0]?.toFQDNs?.[1]).toEqual({ matchPattern: "**.cdn.example.com" });
    await op.policies.create({ namespace: "fq", name: "one-label", spec: fqdn("*.example.com") });
    const bad = await errorOf(() =>
      op.policies.create({ namespace: "fq", name: "bad", spec: fqdn("api.**.example.com") }),
    );
    expect(bad.fieldErrors).toEqual({
      "spec.egress.0.toFQDNs.1.matchPattern": [
        expect.stringContaining('"**" is only allowed as the first label'),
      ],
    });
    const long = await errorOf(() =>
      op.policies.create({ namespace: "fq", name: "long", spec: fqdn(`${"a".repeat(64)}.example.com`) }),
    );
    expect(Object.keys(long.fieldErrors ?? {})).toEqual(["spec.egress.0.toFQDNs.1.matchPattern"]);
  });

  it("rejects a duplicate name in the same namespace by field", async () => {
    const op = await h.as("operator");
    await op.policies.create({ namespace: "dup", name: "p", spec: { endpointSelector: {} } });
    const err = await errorOf(() =>
      op.policies.create({ namespace: "dup", name: "p", spec: { endpointSelector: {} } }),
    );
    expect(err.fieldErrors).toEqual({ name: ["a network policy named dup/p already exists"] });
  });

  it("a stale version is a CONFLICT that says who changed it and when, and nothing is overwritten", async () => {
    const op = await h.as("operator");
    const admin = await h.as("admin");
    const p = await op.policies.create({ namespace: "c", name: "contended", spec });
    const byAdmin = await admin.policies.update({
      id: p.id,
      version: p.version,
      description: "admin was here",
    });
    const err = await errorOf(() =>
      op.policies.update({ id: p.id, version: p.version, description: "operator too" }),
    );
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toContain("changed by admin@test.local (token admin token)");
    expect(err.message).toContain(byAdmin.updatedAt.toISOString());
    expect((await op.policies.get({ id: p.id })).description).toBe("admin was here");
  });

  // Issue 19, bug 2: without the version check in the generic delete (resources/define.ts) every
  // API test passed; only updates were tested for conflicts. A delete based on a version someone
  // has since changed must not remove their change.
  it("a delete based on a stale version is a CONFLICT, and the policy stays with the newer change", async () => {
    const op = await h.as("operator");
    const admin = await h.as("admin");
    const viewer = await h.as("viewer");
    const p = await op.policies.create({ namespace: "c", name: "stale-delete", spec });
    const byAdmin = await admin.policies.update({ id: p.id, version: p.version, enabled: false });
    const err = await errorOf(() => op.policies.delete({ id: p.id, version: p.version }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toContain("changed by admin@test.local (token admin token)");
    const still = await viewer.policies.get({ id: p.id });
    expect(still).toMatchObject({ version: byAdmin.version, enabled: false });
    // The current version deletes it.
    await op.policies.delete({ id: p.id, version: byAdmin.version });
    expect((await errorOf(() => viewer.policies.get({ id: p.id }))).code).toBe("NOT_FOUND");
  });

  it("a viewer cannot write, and an unauthenticated caller cannot read", async () => {
    const viewer = await h.as("viewer");
    expect((await errorOf(() => viewer.policies.create({ namespace: "x", name: "y", spec }))).code).toBe(
      "FORBIDDEN",
    );
    const anon = await h.anon();
    expect((await errorOf(() => anon.policies.list({}))).code).toBe("UNAUTHORIZED");
  });
});

describe("what-if", () => {
  it("answers with the verdict and the deciding rule, from the same compiler the agents use", async () => {
    const admin = await h.as("admin");
    await admin.nodes.create({ name: "wi-node", podCIDRs: ["10.77.0.0/24"] });
    const op = await h.as("operator");
    await op.endpoints.upsert({
      node: "wi-node",
      namespace: "wi",
      name: "web",
      labels: { app: "web" },
      ipv4: "10.77.0.10",
    });
    await op.endpoints.upsert({
      node: "wi-node",
      namespace: "wi",
      name: "db",
      labels: { app: "db" },
      ipv4: "10.77.0.11",
    });
    const ask = (port: number) =>
      op.policies.whatIf({
        source: { namespace: "wi", name: "web" },
        destination: { endpoint: { namespace: "wi", name: "db" } },
        port,
        protocol: "TCP",
      });
    expect((await ask(5432)).verdict).toBe("allow");

    await op.policies.create({
      namespace: "wi",
      name: "db-ingress",
      spec: {
        endpointSelector: { matchLabels: { app: "db" } },
        ingress: [
          {
            fromEndpoints: [{ matchLabels: { app: "web" } }],
            toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
          },
        ],
      },
    });
    const allowed = await ask(5432);
    expect(allowed).toMatchObject({ verdict: "allow", policy: expect.stringContaining("db-ingress") });
    const denied = await ask(22);
    expect(denied.verdict).toBe("deny");
    // Endpoints are named as people know them, never by id.
    expect(denied.reason).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(Object.values(denied.names).sort()).toEqual(["wi/db", "wi/web"]);
    expect(denied.checks.map((c) => denied.names[c.endpoint])).toEqual(["wi/web", "wi/db"]);
    const badIp = await errorOf(() =>
      op.policies.whatIf({
        source: { namespace: "wi", name: "web" },
        destination: { ip: "10.77.0" },
        port: 1,
        protocol: "TCP",
      }),
    );
    expect(badIp.fieldErrors?.["destination.ip"]?.[0]).toContain("is not a valid IP address");

    const missing = await errorOf(() =>
      op.policies.whatIf({
        source: { namespace: "wi", name: "nope" },
        destination: { ip: "1.1.1.1" },
        port: 53,
        protocol: "UDP",
      }),
    );
    expect(missing.fieldErrors).toEqual({ source: ["no endpoint wi/nope"] });
  });
});
