// dns.overview: the DNS rules of policies (intent) beside what nodes report — their proxy's
// health and learned addresses (dns component status) and recent queries (agent.reportDnsEvents).

import type { DnsComponentDetail } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
let agent: Awaited<ReturnType<Harness["withToken"]>>;

beforeAll(async () => {
  h = await createHarness();
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: "dns-1" });
  const { credential } = await (await h.anon()).agent.join({
    token: secret,
    nodeName: "dns-1",
    podCIDRs: ["10.62.0.0/24"],
  });
  agent = await h.withToken(credential);
  await admin.policies.create({
    namespace: "shop",
    name: "client-dns",
    spec: {
      endpointSelector: { matchLabels: { app: "client" } },
      egress: [
        {
          toCIDR: ["10.99.0.53/32"],
          toPorts: [
            { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchName: "ext1.lab" }] } },
          ],
        },
        {
          toFQDNs: [{ matchPattern: "*.ext1.lab" }],
          toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }],
        },
      ],
    },
  });
  await admin.policies.create({
    namespace: "shop",
    name: "plain",
    spec: { endpointSelector: { matchLabels: { app: "web" } }, ingress: [{ fromEntities: ["cluster"] }] },
  });
});
afterAll(async () => {
  await h?.close();
});

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

describe("dns.overview", () => {
  it("lists the policies with DNS rules or toFQDNs, and only those", async () => {
    const o = await (await h.as("viewer")).dns.overview({});
    expect(o.policies.map((p) => [`${p.namespace}/${p.name}`, p.dnsRules, p.fqdns])).toEqual([
      ["shop/client-dns", ["ext1.lab"], ["*.ext1.lab"]],
    ]);
  });

  it("a node that never reported its proxy is unknown, with no learned names", async () => {
    const n = (await (await h.as("viewer")).dns.overview({})).nodes.find((x) => x.name === "dns-1")!;
    expect(n).toMatchObject({ state: "unknown", stats: null, learnedTotal: 0, learned: [] });
  });

  it("shows the proxy's health and learned addresses with the TTL left, dropping expired ones", async () => {
    const detail: DnsComponentDetail = {
      proxyPort: 10053,
      learned: 3,
      redirectedEndpoints: 1,
      stats: {
        queries: 9,
        allowed: 6,
        denied: 2,
        malformed: 1,
        dropped: 0,
        upstreamFailures: 0,
        datapathTimeouts: 0,
      },
      entries: [
        {
          endpoint: "shop/client-1",
          address: "10.99.0.200",
          names: ["ext1.lab"],
          expiresAt: inSeconds(25),
          heldByConnection: false,
        },
        {
          endpoint: "shop/client-1",
          address: "10.99.0.201",
          names: ["www.ext1.lab"],
          expiresAt: inSeconds(-5),
          heldByConnection: true,
        },
        {
          endpoint: "shop/client-1",
          address: "10.99.0.202",
          names: ["old.ext1.lab"],
          expiresAt: inSeconds(-5),
          heldByConnection: false,
        },
      ],
    };
    await agent.agent.reportStatus({
      components: [{ component: "dns", state: "ok", message: "proxy on :10053", detail }],
    });
    const n = (await (await h.as("viewer")).dns.overview({})).nodes.find((x) => x.name === "dns-1")!;
    expect(n.state).toBe("ok");
    expect(n.stats).toMatchObject({ allowed: 6, denied: 2, datapathTimeouts: 0 });
    expect(n.learned.map((e) => [e.address, e.heldByConnection])).toEqual([
      ["10.99.0.200", false],
      ["10.99.0.201", true],
    ]);
    expect(n.learned[0]!.expiresInSeconds).toBeGreaterThan(20);
    expect(n.learned[0]!.expiresInSeconds).toBeLessThanOrEqual(25);
  });

  it("a dns status whose detail does not fit the schema is refused, naming the field", async () => {
    const err = await errorOf(() =>
      agent.agent.reportStatus({
        components: [
          { component: "dns", state: "ok", detail: { proxyPort: "x", learned: 0, redirectedEndpoints: 0 } },
        ],
      }),
    );
    expect(err.code).toBe("BAD_REQUEST");
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["components.0.detail.proxyPort"]);
  });

  it("recent queries newest first, filtered by verdict, name and endpoint", async () => {
    const t = Date.now();
    await agent.agent.reportDnsEvents({
      events: [
        {
          at: new Date(t - 2000),
          endpoint: "shop/client-1",
          qname: "ext1.lab",
          answers: ["10.99.0.200"],
          verdict: "allowed",
          rule: "shop/client-dns matchName:ext1.lab",
          latencyMs: 1.5,
        },
        {
          at: new Date(t - 1000),
          endpoint: "shop/client-1",
          qname: "blocked.lab",
          rcode: "REFUSED",
          verdict: "denied",
          reason: "no DNS rule of shop/client-1 allows blocked.lab",
        },
        { at: new Date(t), endpoint: "shop/other-1", qname: "ext1.lab", verdict: "allowed" },
      ],
    });
    const viewer = await h.as("viewer");
    const all = (await viewer.dns.overview({})).queries;
    expect(all.map((q) => [q.endpoint, q.qname, q.verdict])).toEqual([
      ["shop/other-1", "ext1.lab", "allowed"],
      ["shop/client-1", "blocked.lab", "denied"],
      ["shop/client-1", "ext1.lab", "allowed"],
    ]);
    expect(all[1]).toMatchObject({
      node: "dns-1",
      rcode: "REFUSED",
      reason: "no DNS rule of shop/client-1 allows blocked.lab",
    });
    expect((await viewer.dns.overview({ verdict: "denied" })).queries.map((q) => q.qname)).toEqual([
      "blocked.lab",
    ]);
    expect((await viewer.dns.overview({ name: "EXT1" })).queries).toHaveLength(2);
    expect(
      (await viewer.dns.overview({ endpoint: "client-1", name: "ext1" })).queries.map((q) => q.rule),
    ).toEqual(["shop/client-dns matchName:ext1.lab"]);
    expect((await viewer.dns.overview({ limit: 1 })).queries).toHaveLength(1);
  });

  it("is for signed-in users only", async () => {
    expect((await errorOf(async () => (await h.anon()).dns.overview({}))).code).toBe("UNAUTHORIZED");
  });
});
