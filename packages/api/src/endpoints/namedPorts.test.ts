// Named ports end to end on real PostgreSQL: endpoints declare their container ports (operator API
// and the agent's inventory report), a policy written with a port name is stored as written, and
// the verdicts and the node's compiled state use each endpoint's own number for that name.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { compileNodeState } from "../compiler";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await (await h.as("admin")).nodes.create({ name: "np-a", podCIDRs: ["10.71.0.0/24"] });
});
afterAll(() => h.close());

describe("named ports", () => {
  it("resolve against each endpoint's declared ports, from the API to the compiled state", async () => {
    const op = await h.as("operator");
    const db = await op.endpoints.upsert({
      node: "np-a",
      namespace: "np",
      name: "db-1",
      labels: { app: "db" },
      ipv4: "10.71.0.20",
      ports: [{ name: "postgres", port: 5432, protocol: "TCP" }],
    });
    expect(db.ports).toEqual([{ name: "postgres", port: 5432, protocol: "TCP" }]);
    await op.endpoints.upsert({
      node: "np-a",
      namespace: "np",
      name: "db-2",
      labels: { app: "db", tier: "replica" },
      ipv4: "10.71.0.21",
      // Another pod gives the same name another number: each destination keeps its own.
      ports: [{ name: "postgres", port: 6432 }],
    });
    await op.endpoints.upsert({
      node: "np-a",
      namespace: "np",
      name: "web-1",
      labels: { app: "web" },
      ipv4: "10.71.0.10",
    });
    const created = await op.policies.create({
      namespace: "np",
      name: "web-to-db",
      spec: {
        endpointSelector: { matchLabels: { app: "web" } },
        egress: [
          {
            toEndpoints: [{ matchLabels: { app: "db" } }],
            toPorts: [{ ports: [{ port: "postgres", protocol: "TCP" }] }],
          },
        ],
      },
    });
    const stored = await op.policies.get({ id: created.id });
    expect(stored.spec.egress?.[0]?.toPorts).toEqual([{ ports: [{ port: "postgres", protocol: "TCP" }] }]);

    const viewer = await h.as("viewer");
    const ask = async (to: string, port: number) =>
      (
        await viewer.policies.whatIf({
          source: { namespace: "np", name: "web-1" },
          destination: { endpoint: { namespace: "np", name: to } },
          port,
          protocol: "TCP",
        })
      ).verdict;
    expect([
      await ask("db-1", 5432),
      await ask("db-1", 6432),
      await ask("db-2", 6432),
      await ask("db-2", 5432),
    ]).toEqual(["allow", "deny", "allow", "deny"]);

    const state = compileNodeState(await loadSnapshot(h.db), "np-a");
    const web = state.endpoints.find((e) => e.name === "web-1")!;
    expect(web.entries.map((e) => [e.direction, e.protocol, e.portLow, e.portHigh]).sort()).toEqual([
      ["egress", 6, 5432, 5432],
      ["egress", 6, 6432, 6432],
    ]);
    expect(state.problems).toEqual([]);

    // Ports change with the pod: the old number closes, the problem appears once nothing declares the name.
    await op.endpoints.upsert({
      node: "np-a",
      namespace: "np",
      name: "db-1",
      labels: { app: "db" },
      ipv4: "10.71.0.20",
      ports: [],
    });
    await op.endpoints.upsert({
      node: "np-a",
      namespace: "np",
      name: "db-2",
      labels: { app: "db", tier: "replica" },
      ipv4: "10.71.0.21",
      ports: [],
    });
    expect(await ask("db-1", 5432)).toBe("deny");
    expect(compileNodeState(await loadSnapshot(h.db), "np-a").problems).toEqual([
      {
        area: "policy",
        object: "np/web-to-db",
        message:
          "egress[0].toPorts[0].ports[0].port: named port postgres: no selected endpoint declares it for TCP (endpoint ports), so this entry allows no port",
      },
    ]);
  });

  it("an agent's inventory report carries them too", async () => {
    const { secret } = await (await h.as("admin")).joinTokens.create({ nodeName: "np-b" });
    const joined = await (await h.anon()).agent.join({
      token: secret,
      nodeName: "np-b",
      addresses: ["192.168.71.2/24"],
      podCIDRs: ["10.72.0.0/24"],
      agentVersion: "test",
    });
    const node = await h.withToken(joined.credential);
    await node.agent.reportEndpoints({
      endpoints: [
        {
          namespace: "np",
          name: "api-1",
          labels: { app: "api" },
          ipv4: "10.72.0.5",
          ports: [{ name: "grpc", port: 9090 }],
        },
        { namespace: "np", name: "api-2", labels: { app: "api" }, ipv4: "10.72.0.6" },
      ],
    });
    const snapshot = await loadSnapshot(h.db);
    const api = (name: string) => snapshot.endpoints.find((e) => e.name === name);
    expect(api("api-1")?.ports).toEqual([{ name: "grpc", port: 9090, protocol: "TCP" }]);
    expect(api("api-2")?.ports).toBeUndefined();
  });

  it("refuses malformed or repeated port names, naming the field", async () => {
    const op = await h.as("operator");
    const base = { node: "np-a", namespace: "np", name: "bad-1", ipv4: "10.71.0.30" };
    const twice = await errorOf(() =>
      op.endpoints.upsert({
        ...base,
        ports: [
          { name: "http", port: 80 },
          { name: "http", port: 8080 },
        ],
      }),
    );
    expect(twice.fieldErrors).toEqual({ "ports.1.name": ["port name http is given twice"] });
    const bad = await errorOf(() => op.endpoints.upsert({ ...base, ports: [{ name: "http--x", port: 0 }] }));
    expect(bad.fieldErrors).toEqual({
      "ports.0.name": [
        'port name "http--x" is not a container port name: 1 to 15 letters, digits and single inner dashes, with at least one letter',
      ],
      "ports.0.port": ["port must be 1..65535"],
    });
  });
});
