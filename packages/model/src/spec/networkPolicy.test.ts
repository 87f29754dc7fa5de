import { describe, expect, it } from "vitest";
import { networkPolicySpecSchema } from "./index";
import { issuesOf } from "./test-helpers.test-helpers";

const base = { endpointSelector: { matchLabels: { app: "web" } } };

describe("networkPolicySpec", () => {
  it("accepts a policy with every supported rule kind and defaults enabled to true", () => {
    const spec = networkPolicySpecSchema.parse({
      ...base,
      ingress: [
        {
          fromEndpoints: [{ matchLabels: { app: "lb" } }],
          toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }],
        },
      ],
      ingressDeny: [{ fromCIDR: ["192.0.2.0/24"] }],
      egress: [
        { toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.96.0.0/12"] }] },
        { toFQDNs: [{ matchPattern: "**.example.com" }], toPorts: [{ ports: [{ port: 443 }] }] },
        {
          toEntities: ["world"],
          toPorts: [
            { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchName: "example.com" }] } },
          ],
        },
      ],
      egressDeny: [{ toEntities: ["host"] }],
    });
    expect(spec.enabled).toBe(true);
  });

  it("rejects an except that is not inside its cidr, naming the except", () => {
    expect(
      issuesOf(networkPolicySpecSchema, {
        ...base,
        egress: [{ toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["192.168.0.0/16"] }] }],
      }),
    ).toEqual([
      {
        field: "egress[0].toCIDRSet[0].except[0]",
        message: "except 192.168.0.0/16 is not inside cidr 10.0.0.0/8",
      },
    ]);
  });

  it("points at a CIDR with host bits set deep in a rule", () => {
    expect(
      issuesOf(networkPolicySpecSchema, {
        ...base,
        ingress: [{ fromCIDR: ["10.0.0.0/8", "172.16.0.1/12"] }],
      }),
    ).toEqual([
      {
        field: "ingress[0].fromCIDR[1]",
        message: "host bits set in 172.16.0.1/12, did you mean 172.16.0.0/12",
      },
    ]);
  });

  it("names a misspelt field rather than ignoring it", () => {
    const issues = issuesOf(networkPolicySpecSchema, { ...base, egress: [{ toCidr: ["10.0.0.0/8"] }] });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe("egress[0]");
    expect(issues[0]!.message).toContain("toCidr");
  });

  it("checks port, endPort and protocol", () => {
    const ports = (pp: object) =>
      issuesOf(networkPolicySpecSchema, { ...base, ingress: [{ toPorts: [{ ports: [pp] }] }] });
    expect(ports({ port: "70000" })).toEqual([
      {
        field: "ingress[0].toPorts[0].ports[0].port",
        message: "port 70000 is out of range: must be 0..65535",
      },
    ]);
    // Named ports are kept (the compiler reports what it cannot resolve); malformed names are not.
    expect(ports({ port: "http" })).toEqual([]);
    expect(ports({ port: "http-8080", protocol: "TCP" })).toEqual([]);
    expect(ports({ port: "http--x" })[0]!.message).toBe(
      'port name "http--x" is not a container port name: 1 to 15 letters, digits and single inner dashes, with at least one letter',
    );
    expect(ports({ port: "a-very-long-port-name" })[0]!.message).toContain("is not a container port name");
    expect(ports({ port: "http", endPort: 90 })).toEqual([
      {
        field: "ingress[0].toPorts[0].ports[0].endPort",
        message: "endPort needs a port number, not a port name",
      },
    ]);
    expect(ports({ port: 8100, endPort: 8000 })).toEqual([
      {
        field: "ingress[0].toPorts[0].ports[0].endPort",
        message: "endPort 8000 must be between port 8100 and 65535",
      },
    ]);
    expect(ports({ port: 80, protocol: "GRE" })[0]!.message).toBe(
      'protocol "GRE" is not one of TCP, UDP, SCTP, ICMP, ICMPv6, ANY',
    );
  });

  it("rejects entities Meridian does not support, listing the ones it does", () => {
    expect(
      issuesOf(networkPolicySpecSchema, { ...base, egress: [{ toEntities: ["kube-apiserver"] }] })[0]!
        .message,
    ).toBe(
      'entity "kube-apiserver" is not supported; use one of world, cluster, host, remote-node, health, all',
    );
  });

  it("keeps DNS rules to egress allow rules with ports, and toFQDNs out of mixed rules", () => {
    expect(
      issuesOf(networkPolicySpecSchema, {
        ...base,
        egress: [{ toPorts: [{ rules: { dns: [{ matchPattern: "*" }] } }] }],
      }),
    ).toEqual([
      {
        field: "egress[0].toPorts[0].rules.dns",
        message: "DNS rules need the DNS port: add ports [{port: 53, protocol: ANY}]",
      },
    ]);
    expect(
      issuesOf(networkPolicySpecSchema, {
        ...base,
        ingress: [{ toPorts: [{ ports: [{ port: 53 }], rules: { dns: [] } }] }],
      })[0]!.field,
    ).toBe("ingress[0].toPorts[0]");
    expect(
      issuesOf(networkPolicySpecSchema, {
        ...base,
        egress: [{ toFQDNs: [{ matchName: "a.com" }], toCIDR: ["10.0.0.0/8"] }],
      }),
    ).toEqual([
      {
        field: "egress[0].toFQDNs",
        message: "toFQDNs cannot be combined with toCIDR in one rule; write two rules",
      },
    ]);
  });

  it("validates FQDN patterns inside toFQDNs", () => {
    expect(
      issuesOf(networkPolicySpecSchema, { ...base, egress: [{ toFQDNs: [{ matchPattern: "api.**.com" }] }] }),
    ).toEqual([
      {
        field: "egress[0].toFQDNs[0].matchPattern",
        message: '"**" is only allowed as the first label ("**.example.com")',
      },
    ]);
  });

  it("requires an endpoint selector and checks selector operators", () => {
    expect(issuesOf(networkPolicySpecSchema, {})[0]!.field).toBe("endpointSelector");
    expect(
      issuesOf(networkPolicySpecSchema, {
        endpointSelector: { matchExpressions: [{ key: "app", operator: "In" }] },
      }),
    ).toEqual([
      {
        field: "endpointSelector.matchExpressions[0].values",
        message: "operator In needs at least one value",
      },
    ]);
  });
});
