import { describe, expect, it } from "vitest";
import { CLIENT, cluster, DB, DEV_DB, DNS, egressPolicy, policy, WEB } from "../../testing/cluster";
import { specIssues } from "../spec";
import { CIDR_IDENTITY_BASE, FQDN_IDENTITY_BASE } from "./identity";
import {
  compileNodeState,
  lookupIpcache,
  type PolicyEntry,
  UnknownEndpointError,
  UnknownNodeError,
  whatIf,
  whatIfQuerySchema,
} from "./index";

const policies = [
  policy("db-allow-web", "prod", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingress: [
      {
        fromEndpoints: [{ matchLabels: { app: "web" } }],
        toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
      },
    ],
  }),
  policy("web-out", "prod", {
    endpointSelector: { matchLabels: { app: "web" } },
    egress: [
      { toEndpoints: [{ matchLabels: { app: "db" } }] },
      { toCIDRSet: [{ cidr: "172.16.0.0/12", except: ["172.20.0.0/16"] }] },
    ],
    egressDeny: [{ toPorts: [{ ports: [{ port: "25", protocol: "TCP" }] }] }],
  }),
];

function shuffled<T>(items: T[]): T[] {
  return [...items].reverse();
}

describe("compileNodeState", () => {
  it("refuses a node the snapshot does not know", () => {
    expect(() => compileNodeState(cluster(), "n9")).toThrow(UnknownNodeError);
    expect(() => compileNodeState(cluster(), "n9")).toThrow('node "n9" is not in the cluster snapshot');
  });

  it("describes the node itself: its labels, and its addresses and PodCIDRs sorted", () => {
    const base = cluster();
    const snapshot = cluster({
      nodes: [
        {
          name: "n1",
          labels: { rack: "a" },
          addresses: ["192.168.0.11/24", "10.0.0.11/24"],
          podCIDRs: ["fd00:1:1::/64", "10.1.1.0/24"],
        },
        ...base.nodes.slice(1),
      ],
    });
    expect(compileNodeState(snapshot, "n1").node).toEqual({
      name: "n1",
      labels: { rack: "a" },
      addresses: ["10.0.0.11/24", "192.168.0.11/24"],
      podCIDRs: ["10.1.1.0/24", "fd00:1:1::/64"],
    });
    // As peers of another node the addresses are bare (next hops), sorted too.
    expect(compileNodeState(snapshot, "n2").peers[0]).toEqual({
      name: "n1",
      addresses: ["10.0.0.11", "192.168.0.11"],
      podCIDRs: ["10.1.1.0/24", "fd00:1:1::/64"],
    });
  });

  it("lists its endpoints with their addresses, and the identities its state uses with their labels", () => {
    const webOut = policy("web-out", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [
        {
          toPorts: [
            { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*.example.com" }] } },
          ],
        },
        {
          toFQDNs: [{ matchName: "api.example.com" }],
          toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }],
        },
        { toCIDR: ["198.51.100.0/24"] },
      ],
    });
    const base = cluster({ policies: [webOut] });
    const dual = { ...WEB, ipv6: "fd00:1:1::10" };
    const state = compileNodeState({ ...base, endpoints: [dual, ...base.endpoints.slice(1)] }, "n1");
    expect(state.endpoints.map((e) => [e.id, e.labels, e.ipv4, e.ipv6, e.identity])).toEqual([
      ["prod/client-1", { app: "client" }, "10.1.1.11", undefined, 1003],
      ["prod/web-1", { app: "web" }, "10.1.1.10", "fd00:1:1::10", 1001],
    ]);
    const ids = state.identities.map((i) => i.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids).not.toContain(0);
    const labelsOf = Object.fromEntries(state.identities.map((i) => [i.id, i.labels]));
    expect(labelsOf).toMatchObject({
      1: { "reserved:host": "" },
      2: { "reserved:world": "" },
      6: { "reserved:remote-node": "" },
      128: { "reserved:cluster-pod": "" },
      1001: { app: "web", "io.kubernetes.pod.namespace": "prod" },
      1003: { app: "client", "io.kubernetes.pod.namespace": "prod" },
    });
    const cidr = state.identities.find((i) => "cidr:198.51.100.0/24" in i.labels)!;
    const fqdn = state.identities.find((i) => "fqdn:matchName:api.example.com" in i.labels)!;
    expect(cidr.labels).toEqual({ "cidr:198.51.100.0/24": "" });
    expect(fqdn.labels).toEqual({ "fqdn:matchName:api.example.com": "" });
    expect(cidr.id).toBeGreaterThanOrEqual(CIDR_IDENTITY_BASE);
    expect(cidr.id).toBeLessThan(FQDN_IDENTITY_BASE);
    expect(fqdn.id).toBeGreaterThanOrEqual(FQDN_IDENTITY_BASE);
  });

  it("contains only the node's own endpoints, and CIDR prefixes only of policies that select them", () => {
    const n2 = compileNodeState(cluster({ policies }), "n2");
    expect(n2.endpoints.map((e) => e.id)).toEqual([DEV_DB.id, DB.id]);
    expect(n2.ipcache.some((e) => e.prefix === "172.16.0.0/12")).toBe(false);
    const n1 = compileNodeState(cluster({ policies }), "n1");
    expect(n1.endpoints.map((e) => e.id)).toEqual([CLIENT.id, WEB.id]);
    expect(n1.ipcache.some((e) => e.prefix === "172.16.0.0/12")).toBe(true);
  });

  it("maps its own addresses to host and other nodes' to remote-node", () => {
    const n1 = compileNodeState(cluster(), "n1").ipcache;
    expect(lookupIpcache(n1, "192.168.0.11")).toMatchObject({ identity: 1, source: "host" });
    expect(lookupIpcache(n1, "192.168.0.12")).toMatchObject({ identity: 6, source: "remote-node" });
    expect(lookupIpcache(n1, "192.168.0.13")).toMatchObject({ identity: 6, source: "remote-node" });
    expect(lookupIpcache(n1, "192.168.0.14")).toMatchObject({ identity: 2, source: "world" });
  });

  it("maps remote pods to their identity only when its rules name them; other pods fall in cluster-pod", () => {
    const open = compileNodeState(cluster(), "n1").ipcache;
    expect(lookupIpcache(open, DB.ipv4!)).toMatchObject({ identity: 128, source: "pod-cidr" });
    expect(lookupIpcache(open, WEB.ipv4!)).toMatchObject({ identity: WEB.identity, source: "endpoint" });
    const n1 = compileNodeState(cluster({ policies }), "n1").ipcache;
    expect(lookupIpcache(n1, DB.ipv4!)).toEqual({
      prefix: "10.1.2.20/32",
      identity: DB.identity,
      source: "endpoint",
    });
    expect(lookupIpcache(n1, DNS.ipv4!)).toMatchObject({ identity: 128 });
  });

  it("aggregates PodCIDRs and node addresses into as few entries as cover exactly the same addresses", () => {
    const n1 = compileNodeState(cluster(), "n1").ipcache;
    expect(n1.filter((e) => e.source === "pod-cidr").map((e) => e.prefix)).toEqual([
      "10.1.1.0/24",
      "10.1.2.0/23",
      "fd00:1:1::/64",
    ]);
    expect(n1.filter((e) => e.source === "host").map((e) => e.prefix)).toEqual(["192.168.0.11/32"]);
    expect(n1.filter((e) => e.source === "remote-node").map((e) => e.prefix)).toEqual(["192.168.0.12/31"]);
  });

  it("gives pods inside a rule CIDR narrower than their PodCIDR their own entry, so the CIDR rule does not select them", () => {
    const narrow = policy("narrow", "prod", {
      endpointSelector: { matchLabels: { app: "web" } },
      egress: [{ toCIDR: ["10.1.3.0/25"] }],
    });
    const snapshot = cluster({ policies: [narrow] });
    expect(compileNodeState(snapshot, "n1").ipcache).toContainEqual({
      prefix: "10.1.3.53/32",
      identity: DNS.identity,
      source: "endpoint",
    });
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { endpoint: DNS.id }, port: 53, protocol: "UDP" })
        .verdict,
    ).toBe("deny");
    expect(
      whatIf(snapshot, { source: WEB.id, destination: { ip: "10.1.3.54" }, port: 53, protocol: "UDP" })
        .verdict,
    ).toBe("allow");
  });

  it("is deterministic: input order and the revision number do not change the state or its hash", () => {
    const a = compileNodeState(cluster({ policies }), "n1");
    const base = cluster({ policies });
    const b = compileNodeState(
      {
        ...base,
        revision: 99,
        nodes: shuffled(base.nodes),
        endpoints: shuffled(base.endpoints),
        identities: shuffled(base.identities),
        policies: shuffled(policies),
      },
      "n1",
    );
    expect(b.contentHash).toBe(a.contentHash);
    expect({ ...b, revision: 0 }).toEqual({ ...a, revision: 0 });
    expect(a.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("hashes label maps the same whatever order their keys arrive in", () => {
    const reordered = cluster({ policies });
    reordered.endpoints = reordered.endpoints.map((e) =>
      e.id === WEB.id ? { ...e, labels: { tier: "front", app: "web" } } : e,
    );
    const ordered = cluster({ policies });
    ordered.endpoints = ordered.endpoints.map((e) =>
      e.id === WEB.id ? { ...e, labels: { app: "web", tier: "front" } } : e,
    );
    expect(compileNodeState(reordered, "n1").contentHash).toBe(compileNodeState(ordered, "n1").contentHash);
  });

  it("changes the hash when the node's policy changes, and not when another node's pods change", () => {
    const before = compileNodeState(cluster({ policies }), "n2").contentHash;
    const widened = policy("db-allow-web", "prod", {
      endpointSelector: { matchLabels: { app: "db" } },
      ingress: [
        {
          fromEndpoints: [{ matchLabels: { app: "web" } }],
          toPorts: [{ ports: [{ port: "5433", protocol: "TCP" }] }],
        },
      ],
    });
    expect(compileNodeState(cluster({ policies: [widened, policies[1]!] }), "n2").contentHash).not.toBe(
      before,
    );
    const relabelled = cluster({ policies });
    relabelled.endpoints = relabelled.endpoints.map((e) =>
      e.id === DNS.id ? { ...e, name: "coredns-renamed" } : e,
    );
    expect(compileNodeState(relabelled, "n2").contentHash).toBe(before);
  });

  it("lists identity labels for every identity its entries and ipcache use", () => {
    const n1 = compileNodeState(cluster({ policies }), "n1");
    const ids = new Set(n1.identities.map((i) => i.id));
    for (const e of n1.endpoints.flatMap((ep) => ep.entries))
      if (e.remoteIdentity !== 0) expect(ids).toContain(e.remoteIdentity);
    expect(n1.identities.find((i) => i.id === DB.identity)!.labels).toEqual({
      app: "db",
      "io.cilium.k8s.policy.cluster": "default",
      "io.kubernetes.pod.namespace": "prod",
    });
    expect(n1.identities.find((i) => i.id === 2)!.labels).toEqual({ "reserved:world": "" });
    expect(n1.identities.some((i) => Object.keys(i.labels)[0] === "cidr:172.20.0.0/16")).toBe(true);
  });
});

describe("whatIf agrees with the compiled entries", () => {
  const snapshot = cluster({ policies });
  const covering = (entries: PolicyEntry[], ruleId: string, port: number) =>
    entries.some((e) => e.ruleId === ruleId && e.portLow <= port && port <= e.portHigh);

  it("names a rule that exists in the deciding endpoint's entries and covers the port", () => {
    const pods = [WEB, CLIENT, DB, DEV_DB, DNS];
    let decided = 0;
    for (const src of pods) {
      for (const dst of pods) {
        if (src === dst) continue;
        for (const port of [25, 80, 5432]) {
          const answer = whatIf(snapshot, {
            source: src.id,
            destination: { endpoint: dst.id },
            port,
            protocol: "TCP",
          });
          if (!answer.ruleId) continue;
          decided++;
          const check = answer.checks.find((c) => c.ruleId === answer.ruleId)!;
          const node = [src, dst].find((p) => p.id === check.endpoint)!.node;
          const entries = compileNodeState(snapshot, node).endpoints.find(
            (e) => e.id === check.endpoint,
          )!.entries;
          expect(covering(entries, answer.ruleId, port)).toBe(true);
        }
      }
    }
    expect(decided).toBeGreaterThanOrEqual(5);
  });

  it("reports both directions for a pod-to-pod flow", () => {
    const answer = whatIf(snapshot, {
      source: WEB.id,
      destination: { endpoint: DB.id },
      port: 5432,
      protocol: "TCP",
    });
    expect(answer.checks.map((c) => [c.direction, c.verdict, c.ruleId])).toEqual([
      ["egress", "allow", "prod/web-out/egress[0]"],
      ["ingress", "allow", "prod/db-allow-web/ingress[0]"],
    ]);
  });

  it("applies the source's egress deny to any destination on that port", () => {
    const answer = whatIf(snapshot, {
      source: WEB.id,
      destination: { ip: "172.16.0.1" },
      port: 25,
      protocol: "TCP",
    });
    expect(answer).toMatchObject({ verdict: "deny", ruleId: "prod/web-out/egressDeny[0]" });
  });
});

describe("egress gateway", () => {
  const egw = egressPolicy("web-egress", {
    selectors: [
      {
        podSelector: { matchLabels: { app: "web" } },
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "prod" } },
      },
    ],
    destinationCIDRs: ["0.0.0.0/0"],
    excludedCIDRs: ["10.0.0.0/8"],
    gateways: [{ nodeSelector: { matchLabels: { rack: "b" } }, egressIP: "192.168.0.100" }],
  });

  it("gives the source node its local pods and the gateways in name order, first one active", () => {
    const [rule] = compileNodeState(cluster({ egressPolicies: [egw] }), "n1").egressGateway;
    expect(rule).toMatchObject({
      policy: "web-egress",
      isSource: true,
      isGateway: false,
      localSourceEndpoints: [WEB.id],
      sourceIPs: [],
    });
    expect(rule!.gateways).toEqual([
      { node: "n2", nodeIP: "192.168.0.12", egressIP: "192.168.0.100", active: true },
      { node: "n3", nodeIP: "192.168.0.13", egressIP: "192.168.0.100", active: false },
    ]);
  });

  it("gives gateway nodes every source address to SNAT", () => {
    const [rule] = compileNodeState(cluster({ egressPolicies: [egw] }), "n3").egressGateway;
    expect(rule).toMatchObject({
      isSource: false,
      isGateway: true,
      localSourceEndpoints: [],
      sourceIPs: ["10.1.1.10"],
    });
  });

  it("leaves nodes that are neither source nor gateway out", () => {
    const onlyN2 = egressPolicy("to-n2", { ...egw.spec, gateways: [{ nodeName: "n2" }] });
    const pods = cluster({ egressPolicies: [onlyN2] });
    expect(compileNodeState(pods, "n3").egressGateway).toEqual([]);
  });

  it("marks as many gateways active as maxActiveGateways", () => {
    const ha = egressPolicy("ha", { ...egw.spec, ha: { maxActiveGateways: 2 } });
    const [rule] = compileNodeState(cluster({ egressPolicies: [ha] }), "n1").egressGateway;
    expect(rule!.gateways.map((g) => g.active)).toEqual([true, true]);
  });
});

describe("whatIf input", () => {
  it("validates the question with field-level reasons", () => {
    const result = whatIfQuerySchema.safeParse({
      source: "x",
      destination: { ip: "10.0.0.300" },
      port: 70000,
      protocol: "GRE",
    });
    expect(result.success ? [] : specIssues(result.error)).toEqual([
      { field: "destination.ip", message: '"10.0.0.300" is not a valid IP address' },
      { field: "port", message: "port must be 0..65535" },
      {
        field: "protocol",
        message: "protocol must be TCP, UDP, SCTP, ICMP, ICMPv6, ANY or an IP protocol number 0..255",
      },
    ]);
  });

  it("names an unknown source endpoint", () => {
    expect(() =>
      whatIf(cluster(), { source: "prod/ghost", destination: { ip: "10.0.0.1" }, port: 1, protocol: "TCP" }),
    ).toThrow(UnknownEndpointError);
  });
});
