// Named ports (`port: http`) resolve against the endpoints' declared container ports, as in Cilium:
// an ingress rule's against the endpoint the policy selects, an egress rule's against the named
// ports of every endpoint (one number per protocol; a name declared with several numbers resolves
// to none). A name that resolves to nothing matches no port (never every port) and is listed under
// the node's problems with its field.
import { describe, expect, it } from "vitest";
import { CLIENT, cluster, DB, DEV_DB, DNS, policy, WEB } from "../../testing/cluster";
import { compileNodeState, whatIf } from "./index";
import type { SnapshotEndpoint } from "./snapshot";

const withPorts = (ep: SnapshotEndpoint, ports: SnapshotEndpoint["ports"]): SnapshotEndpoint => ({
  ...ep,
  ports,
});
const db = withPorts(DB, [
  { name: "postgres", port: 5432, protocol: "TCP" },
  { name: "metrics", port: 9187, protocol: "TCP" },
]);
const devDb = withPorts(DEV_DB, [{ name: "postgres", port: 6432, protocol: "TCP" }]);
const dns = withPorts(DNS, [{ name: "dns", port: 53, protocol: "UDP" }]);
const snapshotWith = (policies: ReturnType<typeof policy>[], endpoints = [WEB, CLIENT, db, devDb, dns]) =>
  cluster({ endpoints, policies });

const entriesOf = (snapshot: ReturnType<typeof cluster>, ep: SnapshotEndpoint) =>
  compileNodeState(snapshot, ep.node)
    .endpoints.find((e) => e.id === ep.id)!
    .entries.map((e) => [e.direction, e.verdict, e.remoteIdentity, e.protocol, e.portLow, e.portHigh]);
const verdict = (
  snapshot: ReturnType<typeof cluster>,
  from: SnapshotEndpoint,
  to: SnapshotEndpoint,
  port: number,
  protocol: "TCP" | "UDP" = "TCP",
) => whatIf(snapshot, { source: from.id, destination: { endpoint: to.id }, port, protocol }).verdict;

const dbAllowsWebByName = policy("db-allow-web", "prod", {
  endpointSelector: { matchLabels: { app: "db" } },
  ingress: [
    {
      fromEndpoints: [{ matchLabels: { app: "web" } }],
      toPorts: [{ ports: [{ port: "postgres", protocol: "TCP" }] }],
    },
  ],
});

describe("named ports", () => {
  it("in an ingress rule resolve against the selected endpoint's own ports", () => {
    const snapshot = snapshotWith([dbAllowsWebByName]);
    expect(entriesOf(snapshot, db)).toEqual([["ingress", "allow", WEB.identity, 6, 5432, 5432]]);
    expect([
      verdict(snapshot, WEB, db, 5432),
      verdict(snapshot, WEB, db, 9187),
      verdict(snapshot, CLIENT, db, 5432),
    ]).toEqual(["allow", "deny", "deny"]);
    expect(compileNodeState(snapshot, db.node).problems).toEqual([]);
  });

  it("in an egress rule resolve cluster-wide, to the one number endpoints give the name", () => {
    const webToDb = policy("web-to-db", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [
        { toEndpoints: [{ matchLabels: { app: "db" } }], toPorts: [{ ports: [{ port: "metrics" }] }] },
      ],
    });
    // Only prod/db-1 declares metrics (9187); the rule selects the prod db identity and opens 9187 to it.
    const snapshot = snapshotWith([webToDb]);
    expect(entriesOf(snapshot, WEB)).toEqual([["egress", "allow", DB.identity, 6, 9187, 9187]]);
    expect([verdict(snapshot, WEB, db, 9187), verdict(snapshot, WEB, db, 5432)]).toEqual(["allow", "deny"]);
    expect(compileNodeState(snapshot, WEB.node).problems).toEqual([]);
  });

  it("a name endpoints declare with different numbers resolves to none in egress, as in Cilium, and says so", () => {
    const webToAnyDb = policy("web-to-db", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [
        {
          toEndpoints: [
            { matchLabels: { app: "db", "k8s:io.kubernetes.pod.namespace": "prod" } },
            { matchLabels: { app: "db", "k8s:io.kubernetes.pod.namespace": "dev" } },
          ],
          toPorts: [{ ports: [{ port: "postgres" }] }],
        },
      ],
    });
    // prod/db-1 says postgres is 5432, dev/db-1 says 6432.
    const snapshot = snapshotWith([webToAnyDb]);
    expect(entriesOf(snapshot, WEB)).toEqual([]);
    expect([verdict(snapshot, WEB, db, 5432), verdict(snapshot, WEB, devDb, 6432)]).toEqual(["deny", "deny"]);
    expect(compileNodeState(snapshot, WEB.node).problems.map((p) => p.message)).toEqual([
      "egress[0].toPorts[0].ports[0].port: named port postgres: endpoints declare it as 5432 and 6432 for TCP, so it resolves to no port for TCP (as in Cilium, which resolves an egress name cluster-wide)",
    ]);
    // Ingress resolves each endpoint's own name: there both numbers are fine.
    const dbFromWeb = policy("db-from-web", null, {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [
        { fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "postgres" }] }] },
      ],
    });
    const clusterwide = snapshotWith([dbFromWeb]);
    expect(entriesOf(clusterwide, db)).toEqual([["ingress", "allow", WEB.identity, 6, 5432, 5432]]);
    expect(entriesOf(clusterwide, devDb)).toEqual([["ingress", "allow", WEB.identity, 6, 6432, 6432]]);
  });

  it("in a rule with ports only resolve against every endpoint, and keep the declared protocol", () => {
    const dnsByName = policy("client-dns", "prod", {
      endpointSelector: { matchLabels: { app: "client" } },
      egress: [{ toPorts: [{ ports: [{ port: "dns" }] }] }],
    });
    const snapshot = snapshotWith([dnsByName]);
    expect(entriesOf(snapshot, CLIENT)).toEqual([["egress", "allow", 0, 17, 53, 53]]);
    expect([verdict(snapshot, CLIENT, dns, 53, "UDP"), verdict(snapshot, CLIENT, dns, 53, "TCP")]).toEqual([
      "allow",
      "deny",
    ]);
  });

  it("a deny rule denies the resolved port", () => {
    const webDenied = policy("db-deny-web", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }],
      ingressDeny: [
        { fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "metrics" }] }] },
      ],
    });
    const snapshot = snapshotWith([webDenied]);
    expect([verdict(snapshot, WEB, db, 5432), verdict(snapshot, WEB, db, 9187)]).toEqual(["allow", "deny"]);
  });

  it("a name no selected endpoint declares matches no port, never every port, and is a problem naming the field", () => {
    const byName = policy("db-names", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [
        {
          fromEndpoints: [{ matchLabels: { app: "web" } }],
          toPorts: [
            {
              ports: [
                { port: "http" },
                { port: "postgres", protocol: "UDP" },
                { port: "9999", protocol: "TCP" },
              ],
            },
          ],
        },
      ],
    });
    const snapshot = snapshotWith([byName]);
    expect(entriesOf(snapshot, db)).toEqual([["ingress", "allow", WEB.identity, 6, 9999, 9999]]);
    expect(compileNodeState(snapshot, db.node).problems).toEqual([
      {
        area: "policy",
        object: "prod/db-names",
        message:
          "ingress[0].toPorts[0].ports[0].port: named port http: no selected endpoint declares it (endpoint ports), so this entry allows no port",
      },
      {
        area: "policy",
        object: "prod/db-names",
        message:
          "ingress[0].toPorts[0].ports[1].port: named port postgres: no selected endpoint declares it for UDP (endpoint ports), so this entry allows no port",
      },
    ]);
    // Only nodes whose endpoints the policy selects report it.
    expect(compileNodeState(snapshot, WEB.node).problems).toEqual([]);
    const namesOnly = policy("db-names-only", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [
        { fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "http" }] }] },
      ],
    });
    const bare = snapshotWith([namesOnly]);
    expect(entriesOf(bare, db)).toEqual([]);
    expect([verdict(bare, WEB, db, 80), verdict(bare, WEB, db, 5432)]).toEqual(["deny", "deny"]);
  });
});
