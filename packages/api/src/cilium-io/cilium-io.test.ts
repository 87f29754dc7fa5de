import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BGP_V2, EGRESS_GATEWAY, FQDN, L3_LABELS, L4_PORT } from "../cilium/examples.test-helpers";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await (await h.as("admin")).nodes.create({
    name: "node1",
    labels: { "node.kubernetes.io/name": "node1" },
    addresses: ["10.168.60.11/24"],
  });
});
afterAll(() => h.close());

describe("Cilium YAML through the API", () => {
  it("imports Cilium's documentation examples as one revision, then exports them back", async () => {
    const op = await h.as("operator");
    const yaml = [L3_LABELS, L4_PORT, FQDN, EGRESS_GATEWAY, BGP_V2].join("\n---\n");
    const dry = await op.cilium.import({ yaml, dryRun: true });
    expect(dry.revision).toBeNull();
    expect(await h.db.networkPolicy.count()).toBe(0);

    const res = await op.cilium.import({ yaml });
    expect(res.revision).toEqual(expect.any(Number));
    expect(res.objects.filter((o) => o.action !== "created")).toEqual([]);
    const rev = await op.audit.get({ number: res.revision! });
    expect(rev.entries.length).toBe(res.objects.length);
    expect((await op.policies.list({ namespace: "default" })).items.map((p) => p.name)).toEqual(
      expect.arrayContaining(["l3-rule", "l4-rule"]),
    );
    expect((await op.bgp.peers.list({})).total).toBeGreaterThan(0);

    // Importing the same YAML again changes nothing.
    const again = await op.cilium.import({ yaml });
    expect(again.objects.filter((o) => o.action !== "unchanged")).toEqual([]);
    expect(again.revision).toBeNull();

    const out = await (await h.as("viewer")).cilium.export({ kinds: "NetworkPolicy", namespace: "default" });
    expect(out.yaml).toContain("kind: CiliumNetworkPolicy");
    expect(out.yaml).toContain("name: l3-rule");
  });

  it("a broken document is refused whole, naming the document and field", async () => {
    const op = await h.as("operator");
    const broken = `${L3_LABELS}\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDR: ["10.0.0.1/8"]\n`;
    const err = await errorOf(() => op.cilium.import({ yaml: broken }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.message).toContain("10.0.0.1/8");
    expect(Object.keys(err.fieldErrors ?? {})[0]).toMatch(/^yaml\.document 1\./);
  });
});
