import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("nodes", () => {
  it("registers nodes with dual-stack PodCIDRs and lists them", async () => {
    const admin = await h.as("admin");
    const n = await admin.nodes.create({
      name: "node-a",
      labels: { zone: "a" },
      addresses: ["192.168.10.11/24"],
      podCIDRs: ["10.200.1.0/24", "fd00:200:1::/64"],
    });
    expect(n).toMatchObject({ joinState: "pending", podCIDRs: ["10.200.1.0/24", "fd00:200:1::/64"] });
    const list = await (await h.as("viewer")).nodes.list({ search: "node-" });
    expect(list.items.map((x) => x.name)).toEqual(["node-a"]);
  });

  it("refuses a PodCIDR that overlaps another node's, naming both", async () => {
    const admin = await h.as("admin");
    await admin.nodes.create({ name: "node-b", podCIDRs: ["10.200.2.0/24"] });
    const err = await errorOf(() =>
      admin.nodes.create({ name: "node-c", podCIDRs: ["fd00:300::/64", "10.200.0.0/16"] }),
    );
    expect(err.fieldErrors).toEqual({
      "podCIDRs.1": [
        expect.stringMatching(/10\.200\.0\.0\/16 overlaps 10\.200\.(1|2)\.0\/24 of node node-(a|b)/),
      ],
    });
  });

  it("refuses two PodCIDRs of one family", async () => {
    const err = await errorOf(async () =>
      (await h.as("admin")).nodes.create({ name: "node-d", podCIDRs: ["10.9.0.0/24", "10.8.0.0/24"] }),
    );
    expect(err.fieldErrors?.podCIDRs?.[0]).toContain("one IPv4 and one IPv6");
  });

  it("managing nodes needs admin; operators get FORBIDDEN", async () => {
    const err = await errorOf(async () => (await h.as("operator")).nodes.create({ name: "node-e" }));
    expect(err.code).toBe("FORBIDDEN");
  });

  it("join tokens: the secret is shown once, listed by prefix only", async () => {
    const admin = await h.as("admin");
    const { secret, joinToken } = await admin.joinTokens.create({
      description: "rack 4",
      nodeName: "node-r4",
    });
    expect(secret.startsWith(joinToken.prefix)).toBe(true);
    const list = await admin.joinTokens.list({});
    expect(list.items.map((t) => t.id)).toContain(joinToken.id);
    expect(JSON.stringify(list)).not.toContain(secret);
  });
});
