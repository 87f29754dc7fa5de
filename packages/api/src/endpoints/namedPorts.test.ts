// Named ports end to end on real PostgreSQL: endpoints declare their container ports (operator API
// and the agent's inventory report), a policy written with a port name is stored as written, and
// the verdicts and the node's compiled state use each endpoint's own number for that name.

import { compileNodeState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await (await h.as("admin")).nodes.create({ name: "np-a", podCIDRs: ["10.71.0.0/24"] });
});
afterAll(() => h.close());

describe("named ports", () => {
  it("resolve against the endpoints' declared ports, from the API to the compiled state", async () => {
    const op = await h.as("operator");
    const upsert = (
      name: string,
      labels: Record<string, string>,
      ip: string,
      ports?: { name: string; port: number }[],
    ) =>
      op.endpoints.upsert({
        node: "np-a",
        namespace: "np",
        name,
        labels,
        ipv4: ip,
        ...(ports ? { ports } : {}),
      });
    const db = await upsert("db-1", { app: "db" }, "10.71.0.20", [{ name: "postgres", port: 5432 }]);
    expect(db.ports).toEqual([{ name: "postgres", port: 5432, protocol: "TCP" }]);
    await upsert("db-2", { app: "db", tier: "replica" }, "10.71.0.21");
    await upsert("web-1", { app: "web" }, "10.71.0.10");
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
    const problems = async () =>
      compileNodeState(await loadSnapshot(h.db), "np-a").problems.map((p) => p.message);

    // An egress name resolves cluster-wide (Cilium's NamedPortMultiMap): 5432, to every db the rule selects.
    expect([await ask("db-1", 5432), await ask("db-2", 5432), await ask("db-1", 6432)]).toEqual([
      "allow",
      "allow",
      "deny",
    ]);
    const web = compileNodeState(await loadSnapshot(h.db), "np-a").endpoints.find((e) => e.name === "web-1")!;
    expect(web.entries.map((e) => [e.direction, e.protocol, e.portLow, e.portHigh])).toEqual([
      ["egress", 6, 5432, 5432],
      ["egress", 6, 5432, 5432],
    ]);
    expect(await problems()).toEqual([]);

    // Another pod gives the name another number: Cilium resolves it to none, and so does Meridian, saying so.
    await upsert("db-2", { app: "db", tier: "replica" }, "10.71.0.21", [{ name: "postgres", port: 6432 }]);
    expect([await ask("db-1", 5432), await ask("db-2", 6432)]).toEqual(["deny", "deny"]);
    expect(await problems()).toEqual([
      "egress[0].toPorts[0].ports[0].port: named port postgres: endpoints declare it as 5432 and 6432 for TCP, so it resolves to no port for TCP (as in Cilium, which resolves an egress name cluster-wide)",
    ]);

    // Ports change with the pods: once none declares the name, nothing is open and the problem says why.
    await upsert("db-1", { app: "db" }, "10.71.0.20", []);
    await upsert("db-2", { app: "db", tier: "replica" }, "10.71.0.21", []);
    expect(await ask("db-1", 5432)).toBe("deny");
    expect(await problems()).toEqual([
      "egress[0].toPorts[0].ports[0].port: named port postgres: no endpoint declares it for TCP (endpoint ports), so this entry allows no port",
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
