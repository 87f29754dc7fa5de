import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
