// Named ports (`port: http`) are kept in policies, but Meridian's endpoints declare no container
// port names yet: the compiler resolves none, opens or denies no port for them, never widens the
// rule to every port, and lists each one under the node's problems with its field.
import { describe, expect, it } from "vitest";
import { cluster, DB, policy, WEB } from "./fixtures.test-helpers";
import { compileNodeState, whatIf } from "./index";

const dbAllowsWebByName = policy("db-allow-web", "prod", {
  endpointSelector: { matchLabels: { app: "db" } },
  ingress: [
    {
      fromEndpoints: [{ matchLabels: { app: "web" } }],
      toPorts: [
        {
          ports: [
            { port: "postgres", protocol: "TCP" },
            { port: "9187", protocol: "TCP" },
          ],
        },
      ],
    },
  ],
});

const webDeniesByName = policy("web-deny-http", "prod", {
  endpointSelector: { matchLabels: { app: "web" } },
  egressDeny: [{ toEndpoints: [{ matchLabels: { app: "db" } }], toPorts: [{ ports: [{ port: "http" }] }] }],
});

describe("named ports", () => {
  it("open only the numbered ports of the rule, and are listed as problems naming the field", () => {
    const snapshot = cluster({ policies: [dbAllowsWebByName] });
    const state = compileNodeState(snapshot, DB.node);
    const db = state.endpoints.find((e) => e.id === DB.id)!;
    expect(db.entries.map((e) => [e.direction, e.remoteIdentity, e.protocol, e.portLow, e.portHigh])).toEqual(
      [["ingress", WEB.identity, 6, 9187, 9187]],
    );
    expect(state.problems).toEqual([
      {
        area: "policy",
        object: "prod/db-allow-web",
        message:
          "ingress[0].toPorts[0].ports[0].port: named port postgres: no selected endpoint declares it (Meridian endpoints carry no container port names yet), so this entry allows no port",
      },
    ]);
    const ask = (port: number) =>
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port, protocol: "TCP" }).verdict;
    expect([ask(9187), ask(5432), ask(80)]).toEqual(["allow", "deny", "deny"]);
  });

  it("a rule of names only matches no port: an allow rule opens nothing, a deny rule denies nothing", () => {
    const namesOnly = policy("db-names-only", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [
        { fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "postgres" }] }] },
      ],
    });
    const snapshot = cluster({ policies: [namesOnly, webDeniesByName] });
    const db = compileNodeState(snapshot, DB.node).endpoints.find((e) => e.id === DB.id)!;
    expect(db.entries).toEqual([]);
    expect(db.policyEnforced.ingress).toBe(true);
    const web = compileNodeState(snapshot, WEB.node);
    expect(web.endpoints.find((e) => e.id === WEB.id)!.entries).toEqual([]);
    expect(web.problems.map((p) => p.message)).toEqual([
      "egressDeny[0].toPorts[0].ports[0].port: named port http: no selected endpoint declares it (Meridian endpoints carry no container port names yet), so this entry denies no port",
    ]);
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port: 5432, protocol: "TCP" })
        .verdict,
    ).toBe("deny");
  });

  it("are reported only on the nodes whose endpoints the policy selects", () => {
    const snapshot = cluster({ policies: [dbAllowsWebByName] });
    expect(WEB.node).not.toBe(DB.node);
    expect(compileNodeState(snapshot, WEB.node).problems).toEqual([]);
  });
});
