// The flow → fix loop on PostgreSQL: a default-deny drop's explanation offers the smallest rule
// that allows it (on the enforcing policy, or as a new policy), the rule compiled gives `allow` in
// what-if for that same flow, saving it through the API makes what-if say allow with the new rule,
// and it opens nothing else (another port, another peer stay denied).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../test/harness";
import { peerSelectorLabels } from "./suggest";

let h: Harness;
let nodeId = "";
let lockdownId = "";

type Caller = Awaited<ReturnType<Harness["as"]>>;
let op: Caller;

async function dropped(data: Record<string, unknown>): Promise<string> {
  const row = await h.db.flowSummary.create({
    data: {
      nodeId,
      at: new Date(),
      data: {
        verdict: "dropped",
        reason: "policy_default",
        ruleId: "default-deny",
        packets: 1,
        bytes: 74,
        ...data,
      },
    },
  });
  return row.id.toString();
}

const whatIf = (source: string, destination: object, port: number, protocol: "TCP" | "UDP" = "TCP") =>
  op.policies.whatIf({
    source: { namespace: source.split("/")[0]!, name: source.split("/")[1]! },
    destination: destination as never,
    port,
    protocol,
  });
const ep = (ref: string) => ({ endpoint: { namespace: ref.split("/")[0]!, name: ref.split("/")[1]! } });

beforeAll(async () => {
  h = await createHarness();
  op = await h.as("operator");
  await (await h.as("admin")).nodes.create({ name: "fix-n1", podCIDRs: ["10.7.0.0/24"] });
  nodeId = (await h.db.node.findUniqueOrThrow({ where: { name: "fix-n1" } })).id;
  for (const [namespace, name, labels, ipv4] of [
    ["shop", "db-0", { app: "db", "pod-template-hash": "7f9c" }, "10.7.0.20"],
    ["shop", "web-1", { app: "web" }, "10.7.0.21"],
    ["other", "client", { app: "client", "pod-template-hash": "55aa" }, "10.7.0.30"],
    ["other", "batch", { app: "batch" }, "10.7.0.31"],
  ] as const) {
    await op.endpoints.upsert({ node: "fix-n1", namespace, name, labels: { ...labels }, ipv4 });
  }
  lockdownId = (
    await op.policies.create({
      namespace: "shop",
      name: "db-lockdown",
      spec: {
        endpointSelector: { matchLabels: { app: "db" } },
        ingress: [
          {
            fromEndpoints: [{ matchLabels: { app: "web" } }],
            toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
          },
        ],
      },
    })
  ).id;
  await op.policies.create({
    namespace: "shop",
    name: "web-egress",
    spec: {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [
        {
          toEndpoints: [{ matchLabels: { app: "db" } }],
          toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
        },
      ],
    },
  });
}, 120_000);
afterAll(() => h?.close());

describe("the rule that would allow a dropped flow", () => {
  it("picks the peer's app label, else its stable labels without rollout hashes or Cilium's own", () => {
    expect(peerSelectorLabels({ "k8s:app": "web", tier: "front" })).toEqual({ app: "web" });
    expect(
      peerSelectorLabels({
        tier: "front",
        "pod-template-hash": "abc",
        "k8s:io.kubernetes.pod.namespace": "shop",
      }),
    ).toEqual({ tier: "front" });
  });

  it("for an ingress default deny from another namespace: the peer by app and namespace on the enforcing policy; what-if allows it once saved, and only it", async () => {
    const id = await dropped({
      source: "10.7.0.30",
      destination: "10.7.0.20",
      protocol: "tcp",
      port: 5432,
      direction: "ingress",
      endpoint: "shop/db-0",
      policies: ["shop/db-lockdown"],
    });
    expect((await whatIf("other/client", ep("shop/db-0"), 5432)).verdict).toBe("deny");

    const e = await op.flows.explain({ id });
    expect(e.noFix).toBeUndefined();
    const [onPolicy, asNew] = e.fixes;
    expect(onPolicy).toMatchObject({
      kind: "existing",
      direction: "ingress",
      policy: "shop/db-lockdown",
      policyId: lockdownId,
      version: 1,
      ruleIndex: 1,
      rule: {
        fromEndpoints: [{ matchLabels: { app: "client", "io.kubernetes.pod.namespace": "other" } }],
        toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
      },
      words: "allow ingress from other pods app=client on TCP 5432",
      verdict: "allow",
      reason: "allowed by shop/db-lockdown/ingress[1]",
    });
    // The policy's other rules stay as they were, the new one after them.
    expect((onPolicy!.spec.ingress as unknown[]).length).toBe(2);
    expect(onPolicy!.wholePath).toEqual({
      verdict: "allow",
      reason: expect.stringContaining("ingress: allowed by shop/db-lockdown/ingress[1]"),
    });
    expect(asNew).toMatchObject({
      kind: "new",
      namespace: "shop",
      name: "allow-client-to-db-0-5432",
      spec: { endpointSelector: { matchLabels: { app: "db" } } },
      verdict: "allow",
    });

    // Saved as the editor saves it: what-if now allows this flow by the new rule …
    await op.policies.update({ id: lockdownId, version: onPolicy!.version!, spec: onPolicy!.spec as never });
    const after = await whatIf("other/client", ep("shop/db-0"), 5432);
    expect(after.verdict).toBe("allow");
    expect(after.checks.find((c) => c.direction === "ingress")?.ruleId).toBe("shop/db-lockdown/ingress[1]");
    // … and opens nothing else: another port, another pod of the same namespace.
    expect((await whatIf("other/client", ep("shop/db-0"), 5433)).verdict).toBe("deny");
    expect((await whatIf("other/batch", ep("shop/db-0"), 5432)).verdict).toBe("deny");
    // Asked again, the same record has nothing left to fix.
    const again = await op.flows.explain({ id });
    expect(again.fixes).toEqual([]);
    expect(again.noFix).toMatch(
      /^today's policies already allow it \(allowed by shop\/db-lockdown\/ingress\[1\]\)$/,
    );
  });

  it("for an egress default deny to an address outside the cluster: a /32 CIDR rule; as a new policy it allows the flow once created", async () => {
    const id = await dropped({
      source: "10.7.0.21",
      destination: "192.0.2.10",
      protocol: "udp",
      port: 53,
      direction: "egress",
      endpoint: "shop/web-1",
      policies: ["shop/web-egress"],
    });
    const dest = { ip: "192.0.2.10" };
    expect((await whatIf("shop/web-1", dest, 53, "UDP")).verdict).toBe("deny");
    const e = await op.flows.explain({ id });
    const [onPolicy, asNew] = e.fixes;
    const rule = { toCIDR: ["192.0.2.10/32"], toPorts: [{ ports: [{ port: "53", protocol: "UDP" }] }] };
    expect(onPolicy).toMatchObject({ kind: "existing", policy: "shop/web-egress", rule, verdict: "allow" });
    expect(onPolicy!.words).toBe("allow egress to 192.0.2.10/32 on UDP 53");
    expect(asNew).toMatchObject({
      kind: "new",
      name: "allow-web-1-to-192-0-2-10-53",
      rule,
      verdict: "allow",
    });

    const created = await op.policies.create({
      namespace: asNew!.namespace,
      name: asNew!.name,
      spec: asNew!.spec as never,
    });
    const after = await whatIf("shop/web-1", dest, 53, "UDP");
    expect(after.verdict).toBe("allow");
    expect(after.ruleId).toBe(`shop/${created.name}/egress[0]`);
    expect((await whatIf("shop/web-1", { ip: "192.0.2.11" }, 53, "UDP")).verdict).toBe("deny");
  });

  it("offers none for a deny rule's drop or a malformed packet, and says why", async () => {
    const deny = await dropped({
      source: "10.7.0.21",
      destination: "10.7.0.20",
      protocol: "tcp",
      port: 22,
      reason: "policy_deny",
      ruleId: "shop/db-lockdown/ingressDeny[0]",
      direction: "ingress",
      endpoint: "shop/db-0",
    });
    expect(await op.flows.explain({ id: deny })).toMatchObject({
      fixes: [],
      noFix: expect.stringContaining("a deny rule wins over every allow rule"),
    });
    const bad = await dropped({
      source: "10.7.0.21",
      destination: "10.7.0.20",
      protocol: "tcp",
      reason: "invalid_tcp",
    });
    expect((await op.flows.explain({ id: bad })).noFix).toBe(
      "the datapath dropped it before any policy: no rule can allow it",
    );
  });
});
