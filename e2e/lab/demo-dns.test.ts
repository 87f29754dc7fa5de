// The npm start demo's FQDN policy (demo-dns.ts) on a small lab of the demo's shape: dnsmasq in
// the DNS namespace, ext1's web server, the policy created through the API. What a newcomer tries
// from client-1: an allowed name answers and its address connects, a denied name is REFUSED by
// the proxy and its address stays blocked — while web-1, which no policy selects, reaches both.
import { createMeridianClient } from "@meridian/api/client";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import {
  type ControlPlane,
  kernelPolicy,
  LAB_PARTS,
  startControlPlane,
  until,
} from "./control-plane-harness";
import { curlFrom, DEMO_DNS, digFrom, startDemoDns } from "./demo-dns";
import { FABRIC, type LabTopology } from "./topology";

const realParts = needs("the npm start demo's FQDN policy", [...LAB_PARTS, parts.dnsmasq]);

const prefix = `mrdlabq${process.pid}-`;
const topology: LabTopology = {
  nodes: [{ name: "q-n1", podCIDRs: ["10.244.43.0/24"] }],
  pods: [
    { node: "q-n1", name: "client-1", namespace: "shop", labels: { app: "client" } },
    { node: "q-n1", name: "web-1", namespace: "shop", labels: { app: "web" } },
  ],
  dnsServer: true,
  externals: ["ext1"],
};
const EXT1 = FABRIC.v4(FABRIC.externalHost(0));

let cp: ControlPlane | undefined;
let lab: Lab | undefined;

describe.skipIf(realParts.skip)(
  "the npm start demo's FQDN policy: dnsmasq and a policy on the shop's client",
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      lab = await buildLab(topology, { prefix, controlPlane: { url: cp.api.url, joinToken: cp.joinToken } });
    }, 180_000);

    afterAll(async () => {
      await lab?.teardown().catch(() => undefined);
      await teardownLab(prefix).catch(() => undefined);
      await cp?.close();
    }, 60_000);

    it("starts dnsmasq and creates the policy through the API, and says so", async () => {
      const token = await (await cp!.h.as("admin")).apiTokens.create({ name: "demo-dns", role: "admin" });
      const admin = createMeridianClient({ url: cp!.api.url, token: token.secret });
      const said = await startDemoDns({ prefix, topology, client: admin });
      expect(said).toBe(
        "DNS demo: dnsmasq on 10.99.0.53 answers ext1.lab, www.ext1.lab, blocked.lab (TTL 30 s); policy shop/demo-fqdn lets app=client pods resolve and reach ext1.lab, other names are REFUSED; see DNS in the console",
      );
      const policies = (await admin.policies.list.query({ search: "demo-fqdn" })).items;
      expect(policies.map((p) => `${p.namespace}/${p.name}`)).toEqual(["shop/demo-fqdn"]);
      await until(
        "client-1's FQDN policy in the kernel",
        async () => (await kernelPolicy(lab!, "client-1")).endpoint?.egressEnforced === true,
        30_000,
      );
    }, 60_000);

    it("from client-1: ext1.lab answers and its address connects on the first try", async () => {
      const client = lab!.pods.get("client-1")!;
      expect(await digFrom(client.netns, "ext1.lab")).toEqual({ status: "NOERROR", addresses: [EXT1] });
      // Under the kernel's first SYN retransmission (1 s): the address was open before the answer came.
      expect(await curlFrom(client.netns, EXT1, 0.9)).toBe(`ext1 ${client.ipv4}`);
      const cache = JSON.parse(await lab!.agentCli("q-n1", ["dns", "cache", "--json"])) as {
        endpoint: string;
        address: string;
        names: string[];
        expiresInSeconds: number;
      }[];
      const entry = cache.find((e) => e.endpoint === "shop/client-1" && e.address === EXT1);
      expect(entry?.names).toContain("ext1.lab");
      expect(entry!.expiresInSeconds).toBeLessThanOrEqual(DEMO_DNS.ttlSeconds);
    });

    it("from client-1: blocked.lab is REFUSED and its address stays blocked; web-1 (no policy) reaches it", async () => {
      const client = lab!.pods.get("client-1")!;
      const web = lab!.pods.get("web-1")!;
      expect(await digFrom(client.netns, "blocked.lab")).toEqual({ status: "REFUSED", addresses: [] });
      expect(await curlFrom(client.netns, DEMO_DNS.blockedAddress)).toMatch(/^failed: /);
      expect(await digFrom(web.netns, "blocked.lab")).toEqual({
        status: "NOERROR",
        addresses: [DEMO_DNS.blockedAddress],
      });
      expect(await curlFrom(web.netns, DEMO_DNS.blockedAddress)).toBe(`ext1 ${web.ipv4}`);
    });

    it("the control plane sees it: queries with their verdicts, the proxy's health and the learned address", async () => {
      const token = await (await cp!.h.as("admin")).apiTokens.create({
        name: "demo-dns-viewer",
        role: "viewer",
      });
      const viewer = createMeridianClient({ url: cp!.api.url, token: token.secret });
      const o = await until(
        "the node's DNS queries and learned address in dns.overview",
        async () => {
          const r = await viewer.dns.overview.query({});
          const node = r.nodes.find((n) => n.name === "q-n1");
          const denied = r.queries.some((q) => q.qname === "blocked.lab" && q.endpoint === "shop/client-1");
          return node?.learned.some((e) => e.address === EXT1) && denied ? r : undefined;
        },
        20_000,
      );
      expect(o.policies.map((p) => [`${p.namespace}/${p.name}`, p.dnsRules])).toEqual([
        ["shop/demo-fqdn", ["ext1.lab", "*.ext1.lab"]],
      ]);
      const node = o.nodes.find((n) => n.name === "q-n1")!;
      expect(node.state).toBe("ok");
      expect(node.stats!.denied).toBeGreaterThanOrEqual(1);
      expect(node.learned.find((e) => e.address === EXT1)).toMatchObject({
        endpoint: "shop/client-1",
        names: ["ext1.lab"],
      });
      const q = (name: string) => o.queries.find((x) => x.qname === name && x.endpoint === "shop/client-1")!;
      expect(q("ext1.lab")).toMatchObject({
        verdict: "allowed",
        rcode: "NOERROR",
        answers: [EXT1],
        node: "q-n1",
      });
      expect(q("ext1.lab").rule).toContain("ext1.lab");
      expect(q("blocked.lab")).toMatchObject({ verdict: "denied", rcode: "REFUSED", answers: [] });
      expect(q("blocked.lab").reason).toContain("blocked.lab");
    });
  },
);
