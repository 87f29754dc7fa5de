import { compileNodeState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  const admin = await h.as("admin");
  await admin.nodes.create({
    name: "gw-1",
    labels: { "egress-gw": "true" },
    addresses: ["192.168.50.11/24"],
  });
  await admin.nodes.create({
    name: "gw-2",
    labels: { "egress-gw": "true" },
    addresses: ["192.168.60.12/24"],
  });
});
afterAll(() => h.close());

const base = {
  selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
  destinationCIDRs: ["203.0.113.0/24"],
};

describe("egress gateway policies", () => {
  it("accepts an egress IP inside the gateway node's subnet", async () => {
    const op = await h.as("operator");
    const p = await op.egress.create({
      name: "billing-out",
      spec: { ...base, gateways: [{ nodeName: "gw-1", egressIP: "192.168.50.100" }] },
    });
    expect(p.spec.gateways[0]).toEqual({ nodeName: "gw-1", egressIP: "192.168.50.100" });
    expect(p.spec.ha.maxActiveGateways).toBe(1);
  });

  it("refuses an egress IP outside any address of the selected gateways, naming the gateway field and node", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.egress.create({
        name: "bad-ip",
        spec: {
          ...base,
          gateways: [{ nodeSelector: { matchLabels: { "egress-gw": "true" } }, egressIP: "192.168.50.100" }],
        },
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.gateways.0.egressIP": [
        "egress IP 192.168.50.100 is not inside any address of gateway node(s) gw-2",
      ],
    });
  });

  it("refuses an excluded CIDR outside the destinations", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.egress.create({
        name: "bad-ex",
        spec: { ...base, excludedCIDRs: ["198.51.100.0/24"], gateways: [{ nodeName: "gw-1" }] },
      }),
    );
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["spec.excludedCIDRs.0"]);
  });

  it("bounds gateways[].nodeName as a node name, naming the field", async () => {
    const op = await h.as("operator");
    // A megabyte stops at the request's string bound, before any pattern runs; 254 at the name's.
    const huge = await errorOf(() =>
      op.egress.create({
        name: "huge-node",
        spec: { ...base, gateways: [{ nodeName: "a".repeat(1_000_000) }] },
      }),
    );
    expect(Object.keys(huge.fieldErrors ?? {})).toEqual(["spec.gateways.0.nodeName"]);
    const long = await errorOf(() =>
      op.egress.create({ name: "long-node", spec: { ...base, gateways: [{ nodeName: "a".repeat(254) }] } }),
    );
    expect(long.fieldErrors).toEqual({
      "spec.gateways.0.nodeName": ["a node name is at most 253 characters"],
    });
    const syntax = await errorOf(() =>
      op.egress.create({ name: "bad-node", spec: { ...base, gateways: [{ nodeName: "GW_1 " }] } }),
    );
    expect(syntax.fieldErrors).toEqual({
      "spec.gateways.0.nodeName": [
        'a node name is lower-case letters, digits, "-" or ".", starting and ending with a letter or digit',
      ],
    });
    const empty = await errorOf(() =>
      op.egress.create({ name: "empty-node", spec: { ...base, gateways: [{ nodeName: "" }] } }),
    );
    expect(empty.fieldErrors?.["spec.gateways.0.nodeName"]).toContain("a node name cannot be empty");
  });

  it("refuses egressIP and interface on one gateway", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.egress.create({
        name: "both",
        spec: { ...base, gateways: [{ nodeName: "gw-1", egressIP: "192.168.50.100", interface: "eth0" }] },
      }),
    );
    expect(err.fieldErrors).toEqual({ "spec.gateways.0.interface": ["set egressIP or interface, not both"] });
  });

  it("accepts an excluded CIDR inside a destination", async () => {
    const op = await h.as("operator");
    const p = await op.egress.create({
      name: "ex-inside",
      spec: {
        ...base,
        destinationCIDRs: ["203.0.113.0/24", "2001:db8::/32"],
        excludedCIDRs: ["203.0.113.128/25", "2001:db8:1::/48"],
        gateways: [{ nodeName: "gw-1" }],
      },
    });
    expect(p.spec.excludedCIDRs).toEqual(["203.0.113.128/25", "2001:db8:1::/48"]);
  });

  it("flags, in the compiled problems, gateways that match no node and an egress IP no selected node can source", async () => {
    const admin = await h.as("admin");
    const op = await h.as("operator");
    await admin.nodes.create({ name: "site-x-1", labels: { site: "x" }, addresses: ["192.168.70.13/24"] });
    await op.egress.create({
      name: "site-x",
      spec: {
        ...base,
        gateways: [
          { nodeSelector: { matchLabels: { site: "x" } }, egressIP: "192.168.70.100" },
          { nodeName: "site-x-9" },
          { nodeSelector: { matchLabels: { site: "nowhere" } } },
        ],
      },
    });
    const problemsOf = async (node: string) =>
      compileNodeState(await loadSnapshot(h.db), node).problems.filter((p) => p.object === "site-x");
    expect(await problemsOf("site-x-1")).toEqual([
      { area: "egress", object: "site-x", message: "gateways[1].nodeName: no node is named site-x-9" },
      { area: "egress", object: "site-x", message: "gateways[2].nodeSelector: matches no node" },
    ]);
    // A node that joins the selector later in another subnet cannot source the egress IP.
    await admin.nodes.create({ name: "site-x-2", labels: { site: "x" }, addresses: ["192.168.80.14/24"] });
    await admin.nodes.create({ name: "site-x-9", labels: {}, addresses: ["192.168.70.19/24"] });
    const later = await problemsOf("site-x-2");
    expect(later).toEqual([
      {
        area: "egress",
        object: "site-x",
        message:
          "gateways[0].egressIP: egress IP 192.168.70.100 is on no address or subnet of gateway node(s) site-x-2",
      },
      { area: "egress", object: "site-x", message: "gateways[2].nodeSelector: matches no node" },
    ]);
    // A node outside the policy carries none of its problems.
    expect(await problemsOf("gw-2")).toEqual([]);
  });
});
