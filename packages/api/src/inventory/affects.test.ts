// Which nodes an inventory change touches, checked against the compiler itself: whenever the
// check says "not affected", compiling the node from the new snapshot gives the same state.

import type { ClusterSnapshot } from "@meridian/model";
import { compileNodeState } from "@meridian/model";
import { cluster, DB, egressPolicy, endpoint, policy, WEB } from "@meridian/model/testing";
import { describe, expect, it } from "vitest";
import { inventoryChangeAffects, inventoryDeps } from "./affects";

// db (on n2) admits web (on n1); n3 has a pod of its own under a CIDR rule.
const LOCAL3 = endpoint("ops/tool-1", "n3", "ops", { app: "tool" }, "10.1.3.5", 1010);
const base = () =>
  cluster({
    endpoints: [WEB, DB, LOCAL3],
    identities: [WEB, DB, LOCAL3].map((e) => ({ id: e.identity, labels: e.labels })),
    policies: [
      policy("db-from-web", "prod", {
        endpointSelector: { matchLabels: { app: "db" } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }],
      }),
      policy("tool-out", "ops", {
        endpointSelector: { matchLabels: { app: "tool" } },
        egress: [{ toCIDR: ["10.1.1.128/25"] }],
      }),
    ],
  });
const withEndpoints = (s: ClusterSnapshot, ...extra: ClusterSnapshot["endpoints"]) => ({
  ...s,
  endpoints: [...s.endpoints, ...extra],
});

/** The check's answer for every node, and whether each node's compiled state really changed. */
function judge(prev: ClusterSnapshot, next: ClusterSnapshot) {
  return Object.fromEntries(
    prev.nodes.map((n) => {
      const before = compileNodeState(prev, n.name);
      const after = compileNodeState(next, n.name);
      return [
        n.name,
        {
          affected: inventoryChangeAffects(prev, next, n.name, inventoryDeps(before)),
          changed: before.contentHash !== after.contentHash,
        },
      ];
    }),
  );
}

describe("which nodes an inventory change touches", () => {
  it("a second web pod touches its own node and the node whose rules admit web, not the others", () => {
    const prev = base();
    const web2 = endpoint("prod/web-2", "n1", "prod", { app: "web" }, "10.1.1.11", WEB.identity);
    const r = judge(prev, withEndpoints(prev, web2));
    expect(r).toEqual({
      n1: { affected: true, changed: true },
      n2: { affected: true, changed: true },
      n3: { affected: false, changed: false },
    });
  });

  it("a pod inside another node's CIDR rule touches that node", () => {
    const prev = base();
    const web3 = endpoint("prod/web-3", "n1", "prod", { app: "web" }, "10.1.1.200", WEB.identity);
    const r = judge(prev, withEndpoints(prev, web3));
    expect(r.n3).toEqual({ affected: true, changed: true });
  });

  it("a pod of a new label set, or egress policies in the model, count as touching every node", () => {
    const prev = base();
    const fresh = endpoint("prod/cache-1", "n1", "prod", { app: "cache" }, "10.1.1.12", 1020);
    const next = {
      ...withEndpoints(prev, fresh),
      identities: [...prev.identities, { id: 1020, labels: fresh.labels }],
    };
    expect(Object.values(judge(prev, next)).every((j) => j.affected)).toBe(true);
    const egress = {
      ...base(),
      egressPolicies: [
        egressPolicy("out", {
          selectors: [{ podSelector: {} }],
          destinationCIDRs: ["198.51.100.0/24"],
          gateways: [{ nodeName: "n2" }],
        }),
      ],
    };
    const web2 = endpoint("prod/web-2", "n1", "prod", { app: "web" }, "10.1.1.11", WEB.identity);
    expect(judge(egress, withEndpoints(egress, web2)).n3?.affected).toBe(true);
  });

  it("never says 'not affected' for a node whose state changed (random churn)", () => {
    let prev = base();
    for (let i = 0; i < 40; i++) {
      const node = ["n1", "n2", "n3"][i % 3]!;
      const [app, identity] = [
        ["web", WEB.identity],
        ["db", DB.identity],
        ["tool", LOCAL3.identity],
      ][(i * 7) % 3]!;
      const ns = app === "tool" ? "ops" : "prod";
      const subnet = node === "n1" ? 1 : node === "n2" ? 2 : 3;
      const ep = endpoint(
        `${ns}/${app}-r${i}`,
        node,
        ns,
        { app: app as string },
        `10.1.${subnet}.${40 + i}`,
        identity as number,
      );
      const next =
        i % 4 === 3 ? { ...prev, endpoints: prev.endpoints.slice(0, -1) } : withEndpoints(prev, ep);
      for (const [n, j] of Object.entries(judge(prev, next))) {
        if (j.changed) expect(j.affected, `step ${i}, node ${n}`).toBe(true);
      }
      prev = next;
    }
  });
});
