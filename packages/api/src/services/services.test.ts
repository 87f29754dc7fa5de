import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("services", () => {
  it("stores a LoadBalancer service's VIPs for BGP advertisement and lists by namespace", async () => {
    const op = await h.as("operator");
    const svc = await op.services.create({
      namespace: "shop",
      name: "frontend",
      spec: {
        type: "LoadBalancer",
        labels: { expose: "bgp" },
        clusterIPs: ["10.96.0.10"],
        loadBalancerIPs: ["198.51.100.10"],
      },
    });
    expect(svc.spec).toMatchObject({
      type: "LoadBalancer",
      externalIPs: [],
      loadBalancerIPs: ["198.51.100.10"],
    });
    const list = await (await h.as("viewer")).services.list({ namespace: "shop" });
    expect(list.items.map((s) => s.name)).toEqual(["frontend"]);
  });

  it("rejects a malformed VIP by field", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.services.create({ namespace: "shop", name: "bad", spec: { loadBalancerIPs: ["198.51.100.300"] } }),
    );
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["spec.loadBalancerIPs.0"]);
  });
});
