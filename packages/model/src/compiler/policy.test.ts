import { describe, expect, it } from "vitest";
import { CLIENT, cluster, DB, DEV_DB, DNS, policy, WEB } from "../../testing/cluster";
import { compileNodeState, whatIf } from "./index";

const dbAllowsWeb = policy("db-allow-web", "prod", {
  endpointSelector: { matchLabels: { app: "db" } },
  ingress: [
    {
      fromEndpoints: [{ matchLabels: { app: "web" } }],
      toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
    },
  ],
});

function endpointState(snapshot: ReturnType<typeof cluster>, id: string) {
  const ep = snapshot.endpoints.find((e) => e.id === id)!;
  return compileNodeState(snapshot, ep.node).endpoints.find((e) => e.id === id)!;
}

describe("what-if answers in words", () => {
  it("names the deciding rule, or the policies that default-deny and the identity they do not allow", () => {
    const snapshot = cluster({ policies: [dbAllowsWeb] });
    const ask = (source: string, destination: { endpoint: string } | { ip: string }) =>
      whatIf(snapshot, { source, destination, port: 5432, protocol: "TCP" });
    const reasons = (a: ReturnType<typeof ask>) =>
      a.checks.map((c) => [c.direction, c.remoteIdentity, c.reason]);

    const allowed = ask(WEB.id, { endpoint: DB.id });
    expect(allowed.reason).toBe(
      "egress: no policy selects prod/web-1 for egress; ingress: allowed by prod/db-allow-web/ingress[0]",
    );
    expect(reasons(allowed)).toEqual([
      ["egress", 128, "no policy selects prod/web-1 for egress"],
      ["ingress", WEB.identity, "allowed by prod/db-allow-web/ingress[0]"],
    ]);
    // db-1's node has no entry of its own for client-1 (no rule names it): it sees a cluster pod.
    const denied = ask(CLIENT.id, { endpoint: DB.id });
    expect(denied).toMatchObject({ verdict: "deny" });
    expect(reasons(denied)[1]).toEqual([
      "ingress",
      128,
      "default deny: prod/db-allow-web select prod/db-1 for ingress and no rule allows reserved:cluster-pod",
    ]);
    // An address outside the cluster is "world"; nothing selects client-1 for egress.
    expect(reasons(ask(CLIENT.id, { ip: "192.0.2.1" }))).toEqual([
      ["egress", 2, "no policy selects prod/client-1 for egress"],
    ]);
  });
});

describe("default deny", () => {
  it("leaves an endpoint that no policy selects open in both directions", () => {
    const state = endpointState(cluster(), DB.id);
    expect(state.policyEnforced).toEqual({ ingress: false, egress: false });
    expect(state.entries).toEqual([]);
    const answer = whatIf(cluster(), {
      source: WEB.id,
      destination: { endpoint: DB.id },
      port: 5432,
      protocol: "TCP",
    });
    expect(answer.verdict).toBe("allow");
  });

  it("denies other peers once a policy selects the endpoint for ingress, but not for egress", () => {
    const snapshot = cluster({ policies: [dbAllowsWeb] });
    const state = endpointState(snapshot, DB.id);
    expect(state.policyEnforced).toEqual({ ingress: true, egress: false });
    expect(state.entries).toEqual([
      {
        direction: "ingress",
        remoteIdentity: WEB.identity,
        protocol: 6,
        portLow: 5432,
        portHigh: 5432,
        verdict: "allow",
        ruleId: "prod/db-allow-web/ingress[0]",
      },
    ]);
    const fromClient = whatIf(snapshot, {
      source: CLIENT.id,
      destination: { endpoint: DB.id },
      port: 5432,
      protocol: "TCP",
    });
    expect(fromClient.verdict).toBe("deny");
    expect(fromClient.reason).toContain("default deny");
  });

  it("allows the selected peer on the selected port only", () => {
    const snapshot = cluster({ policies: [dbAllowsWeb] });
    const ok = whatIf(snapshot, {
      source: WEB.id,
      destination: { endpoint: DB.id },
      port: 5432,
      protocol: "TCP",
    });
    expect(ok).toMatchObject({
      verdict: "allow",
      ruleId: "prod/db-allow-web/ingress[0]",
      policy: "prod/db-allow-web",
    });
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port: 5433, protocol: "TCP" })
        .verdict,
    ).toBe("deny");
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port: 5432, protocol: "UDP" })
        .verdict,
    ).toBe("deny");
  });

  it("names, per direction, the policies whose selection put the endpoint under default deny", () => {
    const egressOnly = policy("db-egress-dns", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      egress: [{ toEndpoints: [{ matchLabels: { app: "dns" } }] }],
    });
    const auditOnly = policy("db-audit", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [{ fromEntities: ["cluster"] }],
      enableDefaultDeny: { ingress: false, egress: false },
    });
    const lockdown = policy("db-lockdown", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [],
      enableDefaultDeny: { ingress: true },
    });
    const state = endpointState(cluster({ policies: [dbAllowsWeb, egressOnly, auditOnly, lockdown] }), DB.id);
    expect(state.policies).toEqual([
      "prod/db-allow-web",
      "prod/db-audit",
      "prod/db-egress-dns",
      "prod/db-lockdown",
    ]);
    expect(state.enforcedBy).toEqual({
      ingress: ["prod/db-allow-web", "prod/db-lockdown"],
      egress: ["prod/db-egress-dns"],
    });
    expect(state.policyEnforced).toEqual({ ingress: true, egress: true });
    expect(endpointState(cluster(), DB.id).enforcedBy).toEqual({ ingress: [], egress: [] });
  });

  it("confines a namespaced policy to its namespace: the dev db is not selected", () => {
    const snapshot = cluster({ policies: [dbAllowsWeb] });
    expect(endpointState(snapshot, DEV_DB.id).policyEnforced.ingress).toBe(false);
  });

  it("ignores a disabled policy", () => {
    const disabled = { ...dbAllowsWeb, enabled: false };
    expect(endpointState(cluster({ policies: [disabled] }), DB.id).policyEnforced.ingress).toBe(false);
  });

  it("lets a clusterwide policy select across namespaces", () => {
    const ccnp = policy("all-db", null, {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [{ fromEntities: ["cluster"] }],
    });
    const snapshot = cluster({ policies: [ccnp] });
    expect(endpointState(snapshot, DEV_DB.id).policyEnforced.ingress).toBe(true);
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DEV_DB.id }, port: 1, protocol: "TCP" })
        .ruleId,
    ).toBe("all-db/ingress[0]");
  });
});

describe("explicit deny", () => {
  const allowCluster = policy("db-open", "prod", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingress: [{ fromEntities: ["cluster"] }],
  });
  const denyClient = policy("db-no-client", "prod", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: "client" } }] }],
  });

  it("beats an allow that also matches", () => {
    const snapshot = cluster({ policies: [allowCluster, denyClient] });
    const answer = whatIf(snapshot, {
      source: CLIENT.id,
      destination: { endpoint: DB.id },
      port: 5432,
      protocol: "TCP",
    });
    expect(answer).toMatchObject({ verdict: "deny", ruleId: "prod/db-no-client/ingressDeny[0]" });
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port: 5432, protocol: "TCP" })
        .verdict,
    ).toBe("allow");
  });

  it("is compiled as a deny entry for the denied identity", () => {
    const entries = endpointState(cluster({ policies: [allowCluster, denyClient] }), DB.id).entries;
    expect(entries.filter((e) => e.verdict === "deny")).toEqual([
      {
        direction: "ingress",
        remoteIdentity: CLIENT.identity,
        protocol: 0,
        portLow: 0,
        portHigh: 65535,
        verdict: "deny",
        ruleId: "prod/db-no-client/ingressDeny[0]",
      },
    ]);
  });
});

describe("port ranges", () => {
  const range = policy("web-range", "prod", {
    endpointSelector: { matchLabels: { app: "web" } },
    ingress: [{ toPorts: [{ ports: [{ port: 8000, endPort: 8100, protocol: "TCP" }] }] }],
  });

  it("compile to one entry with both ends and any remote identity", () => {
    expect(endpointState(cluster({ policies: [range] }), WEB.id).entries).toEqual([
      {
        direction: "ingress",
        remoteIdentity: 0,
        protocol: 6,
        portLow: 8000,
        portHigh: 8100,
        verdict: "allow",
        ruleId: "prod/web-range/ingress[0]",
      },
    ]);
  });

  it("allow ports inside the range and nothing beyond its ends", () => {
    const snapshot = cluster({ policies: [range] });
    const at = (port: number) =>
      whatIf(snapshot, { source: CLIENT.id, destination: { endpoint: WEB.id }, port, protocol: "TCP" })
        .verdict;
    expect([at(7999), at(8000), at(8050), at(8100), at(8101)]).toEqual([
      "deny",
      "allow",
      "allow",
      "allow",
      "deny",
    ]);
  });
});

describe("CIDR rules with except", () => {
  const egressCidr = policy("web-out", "prod", {
    endpointSelector: { matchLabels: { app: "web" } },
    egress: [{ toCIDRSet: [{ cidr: "172.16.0.0/12", except: ["172.20.0.0/16"] }] }],
  });

  it("allow the CIDR but not the excepted range", () => {
    const snapshot = cluster({ policies: [egressCidr] });
    const to = (ip: string) =>
      whatIf(snapshot, { source: WEB.id, destination: { ip }, port: 443, protocol: "TCP" }).verdict;
    expect(to("172.16.5.5")).toBe("allow");
    expect(to("172.31.255.1")).toBe("allow");
    expect(to("172.20.1.1")).toBe("deny");
    expect(to("8.8.8.8")).toBe("deny");
  });

  it("give the excepted prefix its own ipcache identity that no allow entry names", () => {
    const state = compileNodeState(cluster({ policies: [egressCidr] }), "n1");
    const except = state.ipcache.find((e) => e.prefix === "172.20.0.0/16")!;
    const outer = state.ipcache.find((e) => e.prefix === "172.16.0.0/12")!;
    expect(except.source).toBe("cidr");
    expect(except.identity).toBeGreaterThanOrEqual(1 << 24);
    expect(except.identity).not.toBe(outer.identity);
    const web = state.endpoints.find((e) => e.id === WEB.id)!;
    expect(web.entries.map((e) => e.remoteIdentity)).toEqual([outer.identity]);
  });

  it("still allow the excepted range when another rule allows a prefix that contains it", () => {
    const world = policy("web-world", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [{ toCIDR: ["0.0.0.0/0"] }],
    });
    const snapshot = cluster({ policies: [egressCidr, world] });
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { ip: "172.20.1.1" }, port: 443, protocol: "TCP" }),
    ).toMatchObject({
      verdict: "allow",
      ruleId: "prod/web-world/egress[0]",
    });
  });

  it("do not select pods whose addresses fall inside the CIDR", () => {
    const podRange = policy("to-pods", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [{ toCIDR: ["10.1.0.0/16"] }],
    });
    const snapshot = cluster({ policies: [podRange] });
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port: 1, protocol: "TCP" })
        .verdict,
    ).toBe("deny");
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { ip: "10.1.200.1" }, port: 1, protocol: "TCP" })
        .verdict,
    ).toBe("allow");
  });
});

describe("FQDN policy", () => {
  const fqdn = policy("web-fqdn", "prod", {
    endpointSelector: { matchLabels: { app: "web" } },
    egress: [
      {
        toEndpoints: [
          { matchLabels: { "io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns" } },
        ],
        toPorts: [
          { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*.example.com" }] } },
        ],
      },
      {
        toFQDNs: [{ matchPattern: "*.example.com" }],
        toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }],
      },
    ],
  });

  it("gives the selected endpoint its FQDN selectors and DNS rules, and no other endpoint any", () => {
    const state = compileNodeState(cluster({ policies: [fqdn] }), "n1");
    const web = state.endpoints.find((e) => e.id === WEB.id)!;
    expect(web.fqdnSelectors).toEqual([
      { identity: expect.any(Number), matchPattern: "*.example.com", ruleIds: ["prod/web-fqdn/egress[1]"] },
    ]);
    expect(web.dnsRules).toEqual([
      {
        ruleId: "prod/web-fqdn/egress[0]",
        ports: [{ port: 53, protocol: 0 }],
        allowed: [{ matchPattern: "*.example.com" }],
      },
    ]);
    expect(web.entries).toContainEqual({
      direction: "egress",
      remoteIdentity: web.fqdnSelectors[0]!.identity,
      protocol: 6,
      portLow: 443,
      portHigh: 443,
      verdict: "allow",
      ruleId: "prod/web-fqdn/egress[1]",
    });
    const client = state.endpoints.find((e) => e.id === CLIENT.id)!;
    expect(client.fqdnSelectors).toEqual([]);
    expect(client.dnsRules).toEqual([]);
  });

  it("allows a matching name, and refuses names the pattern does not cover (one label for *)", () => {
    const snapshot = cluster({ policies: [fqdn] });
    const to = (name: string) =>
      whatIf(snapshot, { source: WEB.id, destination: { fqdn: name }, port: 443, protocol: "TCP" });
    expect(to("api.example.com")).toMatchObject({ verdict: "allow", ruleId: "prod/web-fqdn/egress[1]" });
    expect(to("a.b.example.com").verdict).toBe("deny");
    expect(to("a.b.example.com").reason).toContain("the DNS proxy refuses a.b.example.com");
    expect(to("evil.test").verdict).toBe("deny");
  });

  it("lets DNS queries reach kube-dns on port 53 and nothing else there", () => {
    const snapshot = cluster({ policies: [fqdn] });
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DNS.id }, port: 53, protocol: "UDP" })
        .verdict,
    ).toBe("allow");
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DNS.id }, port: 80, protocol: "TCP" })
        .verdict,
    ).toBe("deny");
  });
});

describe("empty rules", () => {
  it("switch a direction to default-deny without allowing anything", () => {
    const lockdown = policy("lockdown", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [{}],
    });
    const snapshot = cluster({ policies: [lockdown] });
    const state = endpointState(snapshot, DB.id);
    expect(state.policyEnforced.ingress).toBe(true);
    expect(state.entries).toEqual([]);
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DB.id }, port: 5432, protocol: "TCP" })
        .verdict,
    ).toBe("deny");
  });

  it("with only ports allow every peer on those ports", () => {
    const open80 = policy("open-80", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [{ toPorts: [{ ports: [{ port: 80, protocol: "TCP" }] }] }],
    });
    const snapshot = cluster({ policies: [open80] });
    expect(
      whatIf(snapshot, { source: DEV_DB.id, destination: { endpoint: DB.id }, port: 80, protocol: "TCP" })
        .verdict,
    ).toBe("allow");
  });
});

describe("FQDN policy without DNS visibility", () => {
  it("leaves names as world, because the proxy never sees the lookup, and says why", () => {
    const blind = policy("blind-fqdn", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [{ toFQDNs: [{ matchName: "api.example.com" }] }],
    });
    const answer = whatIf(cluster({ policies: [blind] }), {
      source: WEB.id,
      destination: { fqdn: "api.example.com" },
      port: 443,
      protocol: "TCP",
    });
    expect(answer.verdict).toBe("deny");
    expect(answer.reason).toContain("toFQDNs needs a DNS rule");
  });

  it("lets toCIDR 0.0.0.0/0 cover addresses learned for FQDN selectors too", () => {
    const both = policy("fqdn-and-world", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [
        { toEndpoints: [{}], toPorts: [{ ports: [{ port: 53 }], rules: { dns: [{ matchPattern: "*" }] } }] },
        {
          toFQDNs: [{ matchName: "api.example.com" }],
          toPorts: [{ ports: [{ port: 443, protocol: "TCP" }] }],
        },
        { toCIDR: ["0.0.0.0/0"], toPorts: [{ ports: [{ port: 80, protocol: "TCP" }] }] },
      ],
    });
    const answer = whatIf(cluster({ policies: [both] }), {
      source: WEB.id,
      destination: { fqdn: "api.example.com" },
      port: 80,
      protocol: "TCP",
    });
    expect(answer).toMatchObject({ verdict: "allow", ruleId: "prod/fqdn-and-world/egress[2]" });
  });
});
