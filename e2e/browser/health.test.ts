// The DNS proxy, egress gateway and SRv6 VPN site tiles in a real browser, fed only by agent
// reports sent through the agent API (reportStatus, reportDnsEvents, reportFlows): before any
// report they say "not reported"; reports sent while the Overview is open appear without a reload
// (the live indicator's SSE stream); the NOC wall shows the same at 1080p without scrolling and
// turns a silent agent's proxy "stale"; the node page shows its DNS proxy and drops, and the
// Endpoints list each endpoint's drops.
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

/** What the element reads as on screen (one line per list item), whitespace collapsed. */
const text = async (page: Page, testId: string) =>
  // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, not a DOM node; innerText is what the user reads, textContent runs list items together
  (await page.getByTestId(testId).innerText()).replace(/\s+/g, " ").trim();

describe("DNS, egress and SRv6 health tiles (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let ctx: BrowserContext;
  const agents: Record<string, MeridianClient> = {};

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx } = session);
    const { admin } = session;
    agents.a = await joinNode(admin, app.url, { name: "health-a", podCIDR: "10.12.1.0/24" });
    agents.b = await joinNode(admin, app.url, { name: "health-b", podCIDR: "10.12.2.0/24" });
    await admin.egress.create.mutate({
      name: "billing-out",
      spec: {
        selectors: [{ podSelector: { matchLabels: { app: "billing" } } }],
        destinationCIDRs: ["203.0.113.0/24"],
        gateways: [{ nodeName: "health-b" }],
      },
    });
    await admin.egress.create.mutate({
      name: "partner-out",
      spec: {
        selectors: [{ podSelector: { matchLabels: { app: "partner" } } }],
        destinationCIDRs: ["198.51.100.0/24"],
        gateways: [{ nodeName: "health-b" }],
      },
    });
    // The seeded VRF "blue" selects vpn=blue pods.
    await agents.a.agent.reportEndpoints.mutate({
      endpoints: [
        { namespace: "shop", name: "web-1", labels: { vpn: "blue", app: "billing" }, ipv4: "10.12.1.10" },
        { namespace: "shop", name: "idle-1", labels: { app: "idle" }, ipv4: "10.12.1.11" },
      ],
    });
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("say 'not reported' before agents report, then show the reports live on the Overview and the NOC wall", async () => {
    const page = await ctx.newPage();
    await page.goto(app.url);
    await page.getByText(/Live · updated/).waitFor();
    expect(await text(page, "dns-tile")).toContain("0 ● up of 2 nodes 2 ◆ not reported");
    expect(await text(page, "egress-tile")).toContain("0 ● forwarding of 2 policies 2 ◆ not reported");
    expect(await text(page, "srv6-tile")).toContain("0 ● VRFs reachable of 1 1 ◆ not reported");

    // Reported while the page is open.
    const ago = (s: number) => new Date(Date.now() - s * 1000);
    await agents.a!.agent.heartbeat.mutate({ appliedRevision: 1 });
    await agents.b!.agent.heartbeat.mutate({ appliedRevision: 1 });
    await agents.a!.agent.reportStatus.mutate({
      components: [
        {
          component: "dns",
          state: "ok",
          message: "proxy on :10053; 30 allowed, 8 denied, 2 datapath timeouts",
          detail: {
            proxyPort: 10053,
            learned: 1,
            redirectedEndpoints: 1,
            stats: {
              queries: 40,
              allowed: 30,
              denied: 8,
              malformed: 0,
              dropped: 0,
              upstreamFailures: 0,
              datapathTimeouts: 2,
            },
          },
        },
        {
          component: "egress",
          state: "ok",
          message: "2 policies",
          detail: {
            policies: [
              {
                policy: "billing-out",
                role: "source",
                mode: { ipv4: "steer", ipv6: null },
                activeGateway: "health-b",
                egressIP: "192.168.12.2",
                selectedLocalPods: 1,
                missingLocalPods: 0,
                snatEntries: 0,
                problems: [],
              },
              {
                policy: "partner-out",
                role: "source",
                mode: { ipv4: "drop", ipv6: null },
                activeGateway: null,
                egressIP: null,
                selectedLocalPods: 0,
                missingLocalPods: 0,
                snatEntries: 0,
                problems: ["every gateway is down"],
              },
            ],
            counters: {},
          },
        },
        {
          component: "srv6",
          state: "ok",
          message: "1 VRF(s)",
          detail: {
            source: "fd00:5::1",
            locators: ["fd00:5::/64"],
            sids: [{ sid: "fd00:5::64", vrf: "blue", behavior: "End.DT46" }],
            vrfs: [{ name: "blue", vrfID: 100, members: 1, staticPolicies: 0, bgpPolicies: 1 }],
            policies: [
              {
                vrf: "blue",
                destination: "192.168.50.0/24",
                segments: ["fc00:0:2:e004::"],
                source: "bgp",
                peer: "pe-site",
              },
            ],
            counters: { encapsulated: 120, decapsulated: 118, transit: 0, no_vrf_match: 3, bad_srh: 1 },
          },
        },
      ],
    });
    await agents.b!.agent.reportStatus.mutate({
      components: [
        {
          component: "dns",
          state: "error",
          message: "the nftables redirect to the DNS proxy failed",
          detail: { proxyPort: 10053, learned: 0, redirectedEndpoints: 0 },
        },
      ],
    });
    const event = (verdict: "denied" | "error" | "allowed", s: number, reason?: string) => ({
      at: ago(s),
      endpoint: "shop/web-1",
      qname: "api.partner.example",
      verdict,
      ...(reason ? { reason } : {}),
    });
    await agents.a!.agent.reportDnsEvents.mutate({
      events: [
        ...Array.from({ length: 6 }, (_, i) => event("denied", 5 + i, "no DNS rule allows it")),
        event("error", 12, "datapath: took longer than 100 ms"),
        event("error", 13, "datapath: took longer than 100 ms"),
        event("allowed", 14),
        event("allowed", 15),
      ],
    });

    await expect
      .poll(() => text(page, "dns-tile"), { timeout: 15_000 })
      .toContain("1 ● up of 2 nodes 1 ■ down 1.2/min refused 0.4/min datapath timeouts");
    await expect
      .poll(() => text(page, "egress-tile"), { timeout: 15_000 })
      .toContain("1 ● forwarding of 2 policies 1 ■ dropping partner-out: dropping");
    const srv6 = await text(page, "srv6-tile");
    expect(srv6).toContain("1 ● VRFs reachable of 1");
    expect(srv6).toContain("1 remote prefixes in the datapath");
    expect(srv6).toContain("120 encapsulated · 118 decapsulated · ■ 4 dropped");
    expect(srv6).toContain("● blue reachable, 1 imported, 0 static");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "overview-health.png"), fullPage: true });

    // The NOC wall at 1080p: the same numbers, and nothing scrolls.
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${app.url}/noc`);
    await page.getByTestId("noc-connection").getByText("Live").waitFor();
    await expect.poll(() => text(page, "noc-dns")).toBe("1 / 2 up");
    expect(await text(page, "noc-dns-states")).toBe("■ 1 down");
    expect(await text(page, "noc-dns-line")).toBe("1.2/min refused · 0.4/min timeouts");
    expect(await text(page, "noc-egress")).toBe("1 / 2 forwarding");
    expect(await text(page, "noc-egress-states")).toBe("■ 1 dropping");
    expect(await text(page, "noc-srv6")).toBe("1 / 1 VRFs reachable");
    expect(await text(page, "noc-srv6-states")).toBe("● all reachable");
    expect(await text(page, "noc-srv6-line")).toBe("120 encap · 118 decap · 4 dropped");
    expect(await page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")).toBe(true);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "noc-health-1080p.png") });

    // health-a goes silent: its proxy, its egress reports and the VRF it alone reported turn stale.
    await session.db.prisma.node.update({
      where: { name: "health-a" },
      data: { lastHeartbeatAt: new Date(Date.now() - 120_000) },
    });
    await agents.b!.agent.heartbeat.mutate({ appliedRevision: 1 }); // wakes the wall's stream
    await expect
      .poll(() => text(page, "noc-dns-states"), { timeout: 45_000 })
      .toMatch(/^■ 1 down ▲ 1 stale$/);
    expect(await text(page, "noc-dns")).toBe("0 / 2 up");
    expect(await text(page, "noc-egress-states")).toBe("▲ 2 stale");
    expect(await text(page, "noc-srv6-states")).toBe("▲ 1 stale");
    expect(await text(page, "noc-srv6-line")).toBe("0 encap · 0 decap · 0 dropped");
    await page.close();
  }, 180_000);

  it("the node page shows its DNS proxy and drops; the Endpoints list each endpoint's drops", async () => {
    await agents.a!.agent.heartbeat.mutate({ appliedRevision: 1 });
    const flow = (endpoint: string, packets: number, suppressed = 0) => ({
      at: new Date(Date.now() - 20_000),
      source: "10.12.9.9",
      destination: "10.12.1.10",
      protocol: "tcp",
      port: 443,
      verdict: "dropped" as const,
      reason: "policy_default",
      direction: "ingress" as const,
      endpoint,
      ruleId: "default-deny",
      policies: ["shop/lockdown"],
      packets,
      bytes: packets * 60,
      suppressed,
    });
    await agents.a!.agent.reportFlows.mutate({ flows: [flow("shop/web-1", 4, 6)] });
    await agents.b!.agent.reportFlows.mutate({ flows: [flow("shop/db-0", 5)] });

    const page = await ctx.newPage();
    await page.goto(`${app.url}/nodes/health-a`);
    const dns = await text(page, "node-dns");
    expect(dns).toContain("● up proxy on :10053; 30 allowed, 8 denied, 2 datapath timeouts");
    expect(dns).toContain("1.2/min refused 0.4/min datapath timeouts 2/min queries");
    expect(dns).toContain(
      "Since the proxy started: 40 queries, 8 refused, 2 datapath timeouts, 0 upstream failures",
    );
    // health-b's drops are not health-a's.
    expect(await text(page, "node-drops")).toMatch(
      /^Drops, last 15 min 10 ■ packets dropped 10 policy_default/,
    );
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "node-health.png"), fullPage: true });

    await page.goto(`${app.url}/nodes/health-b`);
    expect(await text(page, "node-dns")).toContain("■ down the nftables redirect to the DNS proxy failed");
    expect(await text(page, "node-drops")).toContain("5 ■ packets dropped");

    await page.goto(`${app.url}/endpoints?node=health-a`);
    await expect.poll(() => text(page, "drops-shop-web-1")).toBe("■ 10");
    expect(await text(page, "drops-shop-idle-1")).toBe("● 0");
    expect(await axeProblems(page)).toEqual([]);
    await page.getByRole("link", { name: "10 packets dropped at shop/web-1" }).click();
    await page.waitForURL(/verdict=dropped&since=15m&namespace=shop&pod=web-1/);
    await expect.poll(() => page.getByTestId("flows-table").locator("tbody tr").count()).toBe(1);
    await page.close();
  }, 90_000);
});
