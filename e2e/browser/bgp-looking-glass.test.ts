// The BGP looking glass end to end: an agent (a node credential over the real agent channel)
// reports a peer's routes; a viewer opens them from the peer's row on the BGP page and reads them
// with their attributes, switches direction and family by keyboard, filters by prefix, and sees a
// change the agent reports appear without reloading. Production build, real PostgreSQL, Chromium.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import { seedDatabase } from "@meridian/api/seed";
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import type { LookingGlassRoute } from "@meridian/model";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bgpDetail } from "../src/bgp-report";
import { launchBrowser } from "../src/browser";
import { buildConsole, type RunningConsole, repoRoot, startConsole } from "../src/console";
import { axeProblems, joinNode, signIn, userClient } from "../src/session";

const artifacts = path.join(repoRoot, "e2e", "artifacts");
const VIEWER = { email: "lg-viewer@meridian.local", password: "viewer-password-123" };
const PEER = { name: "lg-tor", address: "192.0.2.7" };

const route = (prefix: string, extra: Partial<LookingGlassRoute> = {}): LookingGlassRoute => ({
  prefix,
  nextHops: [PEER.address],
  origin: "igp",
  asPath: [65010, 65020],
  communities: [],
  largeCommunities: [],
  extendedCommunities: [],
  stale: false,
  ...extra,
});

// 1,500 routes in the peer's table; the agent sends the first 1,000 by prefix: five with a
// variety of attributes (10.0.x), then plain ones from 10.1.0.0 on.
const received = [
  route("10.0.0.0/24", {
    med: 50,
    localPref: 200,
    communities: ["65010:100", "65010:200"],
    largeCommunities: ["65010:1:7"],
  }),
  route("10.0.1.0/24", { asPath: [65010], origin: "incomplete", communities: ["65535:65281"] }),
  route("10.0.2.0/24", { asPath: [65010, 65030, 65030, 65030], med: 10 }),
  route("10.0.3.0/24", { nextHops: ["192.0.2.8"], extendedCommunities: ["soo:65010:3"] }),
  route("10.0.4.0/24", { stale: true }),
  ...Array.from({ length: 995 }, (_, i) => route(`10.${1 + (i >> 8)}.${i & 255}.0/24`)),
];
const vpn = (prefix: string, extra: Partial<LookingGlassRoute> = {}) =>
  route(prefix, {
    rd: "65010:7",
    labels: [0xe0040],
    extendedCommunities: ["rt:65010:7"],
    sid: "fd00:0:0:7:e004::",
    ...extra,
  });

function report(vpnRoutes: LookingGlassRoute[]) {
  return {
    peers: [
      {
        peer: PEER.name,
        address: PEER.address,
        tables: [
          { direction: "received" as const, family: "ipv4-unicast" as const, total: 1500, routes: received },
          {
            direction: "received" as const,
            family: "vpnv4" as const,
            total: vpnRoutes.length,
            routes: vpnRoutes,
          },
          {
            direction: "advertised" as const,
            family: "ipv4-unicast" as const,
            total: 2,
            routes: [
              route("10.244.7.0/24", {
                nextHops: ["192.0.2.10"],
                asPath: [64512],
                communities: ["64512:100"],
                reason: "pod-cidrs",
              }),
              route("198.51.100.10/32", { nextHops: ["192.0.2.10"], asPath: [64512], reason: "vip-web" }),
            ],
          },
          { direction: "advertised" as const, family: "vpnv4" as const, total: 0, routes: [] },
        ],
      },
    ],
    configuredPeers: [PEER.name],
  };
}

describe("BGP looking glass (production build, real PostgreSQL, Debian Chromium)", () => {
  let db: TestDatabase;
  let app: RunningConsole;
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  let agent: MeridianClient;
  let viewer: BrowserContext;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    buildConsole();
    db = await createTestDatabase();
    const seeded = await seedDatabase(db.prisma);
    app = await startConsole(db.url);
    const admin = await userClient(app.url, seeded.adminEmail, seeded.adminPassword!);
    await admin.bgp.peers.create.mutate({
      name: PEER.name,
      spec: { instance: "tor", address: PEER.address, peerASN: 65010 },
    });
    await admin.users.create.mutate({ ...VIEWER, name: "Looking-glass viewer", role: "viewer" });
    agent = await joinNode(admin, app.url, {
      name: "lg-node",
      podCIDR: "10.244.7.0/24",
      labels: { "meridian.io/bgp": "enabled" },
    });
    await agent.agent.reportStatus.mutate({
      components: [
        {
          component: "bgp",
          state: "ok",
          message: "1/1 peers Established",
          detail: bgpDetail({
            [PEER.address]: {
              name: PEER.name,
              state: "Established",
              uptimeSeconds: 300,
              prefixesReceived: 1501,
              prefixesAccepted: 1481,
              prefixesAdvertised: 2,
              flaps: 3,
              lastError: "received: Cease / Administrative Reset",
              lastErrorDetail: {
                words: "received: Cease / Administrative Reset",
                direction: "received",
                code: 6,
                subcode: 4,
                at: "2026-11-30T08:15:00.000Z",
              },
              prefixes: {
                "ipv4-unicast": { received: 1500, accepted: 1480, advertised: 2 },
                vpnv4: { received: 1, accepted: 1, advertised: 0 },
              },
              negotiated: {
                families: ["ipv4-unicast", "vpnv4"],
                holdTimeSeconds: 90,
                keepaliveSeconds: 30,
                fourOctetAsn: true,
                routeRefresh: true,
                gracefulRestart: true,
                extendedNextHop: [],
                peerRouterID: "192.0.2.7",
                localAddress: "192.0.2.10",
              },
              configured: {
                holdTimeSeconds: 180,
                families: ["ipv4-unicast", "vpnv4"],
                md5: true,
                gracefulRestart: true,
              },
              installRoutes: false,
              routesInstalled: 0,
              problems: [],
            },
          }),
        },
      ],
    });
    await agent.agent.reportBgpRoutes.mutate(report([vpn("10.20.0.0/16")]));
    ({ browser, close: closeBrowser } = await launchBrowser());
    viewer = await signIn(browser, app.url, VIEWER.email, VIEWER.password);
  }, 600_000);

  afterAll(async () => {
    await viewer?.close();
    await closeBrowser?.();
    await app?.stop();
    await db?.drop();
  });

  it("shows a peer's received and advertised routes with their attributes, and follows the agent's reports live", async () => {
    const page = await viewer.newPage();
    try {
      await page.goto(`${app.url}/bgp`);
      const row = page.locator(`tr[data-peer="${PEER.name}"]`);
      await row.getByText("established on lg-node").waitFor();
      await row.getByRole("link", { name: `${PEER.name} routes on lg-node` }).click();
      await page.getByRole("heading", { name: `Looking glass: ${PEER.name} on lg-node` }).waitFor();

      // The session as the agent reports it: flaps, last error, timers, capabilities, counters.
      const sessionPanel = page.getByTestId("bgp-session");
      expect(await sessionPanel.getByTestId("session-flaps").textContent()).toBe("3");
      expect(await sessionPanel.getByTestId("session-last-error").textContent()).toBe(
        "received: Cease / Administrative Reset at 2026-11-30 08:15:00 UTC",
      );
      expect(await sessionPanel.getByTestId("session-hold-time").textContent()).toBe(
        "90 s negotiated (configured 180 s), keepalive 30 s",
      );
      expect(await sessionPanel.getByTestId("session-capabilities").textContent()).toContain(
        "graceful restart: yes",
      );
      expect(await sessionPanel.getByTestId("session-kernel").textContent()).toBe("no (looking glass only)");
      const v4 = sessionPanel.locator('tr[data-family="ipv4-unicast"]');
      expect((await v4.locator("th, td").allTextContents()).map((t) => t.trim())).toEqual([
        "IPv4 unicast",
        "1,500",
        "1,480",
        "2",
      ]);

      // Received, IPv4 unicast: the first route with every attribute in its column.
      expect(await page.getByTestId("reported-at").textContent()).toMatch(
        /^at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ s ago\)$/,
      );
      const tabs = page.getByRole("navigation", { name: "Direction" });
      expect(await tabs.getByRole("link", { name: "Received (1,501)" }).getAttribute("aria-current")).toBe(
        "page",
      );
      const table = page.getByTestId("looking-glass-routes");
      const headers = await table.locator("thead th").allTextContents();
      expect(headers).toEqual([
        "Prefix",
        "Next hop",
        "AS path",
        "Origin",
        "MED",
        "LocPrf",
        "Communities",
        "Large communities",
        "Ext. communities",
      ]);
      const first = table.locator('tr[data-prefix="10.0.0.0/24"]');
      expect((await first.locator("th, td").allTextContents()).map((t) => t.trim())).toEqual([
        "10.0.0.0/24",
        PEER.address,
        "65010 65020",
        "IGP",
        "50",
        "200",
        "65010:100 65010:200",
        "65010:1:7",
        "—",
      ]);
      // A bounded table says so, and where the rest is.
      const truncated = await page.getByTestId("truncated").textContent();
      expect(truncated).toContain("Showing the first 1,000 of 1,500 routes (by prefix)");
      expect(truncated).toContain(`meridian-agent bgp routes received ${PEER.name} ipv4-unicast`);
      expect(await page.getByRole("navigation", { name: "Pages" }).textContent()).toContain("1–100 of 1,000");

      expect(await table.locator('tr[data-prefix="10.0.4.0/24"]').getByText("stale").count()).toBe(1);

      // Filter by prefix text.
      await page.getByLabel("Prefix contains").fill("10.0.");
      await page.getByLabel("Prefix contains").press("Enter");
      await page.getByTestId("matched").getByText("5 of 1,000 reported routes contain “10.0.”").waitFor();
      expect(await table.locator("tbody tr").count()).toBe(5);
      await shot(page, "bgp-looking-glass");

      // VPNv4, chosen with the keyboard: RD, label, SID and route target columns.
      await page.getByLabel("Address family").focus();
      await page.getByLabel("Address family").selectOption("vpnv4");
      await page.getByLabel("Prefix contains").fill("");
      await page.getByRole("button", { name: "Show" }).press("Enter");
      const vpnRow = table.locator('tr[data-prefix="10.20.0.0/16"]');
      await vpnRow.waitFor();
      expect(await table.locator("thead th").allTextContents()).toContain("SRv6 SID");
      expect(await vpnRow.textContent()).toContain("65010:7");
      expect(await vpnRow.textContent()).toContain("rt:65010:7");
      expect(await vpnRow.textContent()).toContain("fd00:0:0:7:e004::");

      // Live: the agent reports a new VPN route, stale during the peer's graceful restart, and
      // the page shows it without a reload.
      await agent.agent.reportBgpRoutes.mutate(
        report([vpn("10.20.0.0/16"), vpn("10.30.0.0/16", { stale: true, rd: "65010:8" })]),
      );
      const staleRow = table.locator('tr[data-prefix="10.30.0.0/16"]');
      await staleRow.waitFor({ timeout: 15_000 });
      expect(await staleRow.getByText("stale").count()).toBe(1);

      // Advertised, by keyboard: why each route goes to the peer.
      await tabs.getByRole("link", { name: /^Advertised/ }).focus();
      await page.keyboard.press("Enter");
      await page.waitForURL(/direction=advertised/);
      await page.getByLabel("Address family").selectOption("ipv4-unicast");
      await page.getByRole("button", { name: "Show" }).click();
      const ad = table.locator('tr[data-prefix="10.244.7.0/24"]');
      await ad.waitFor();
      expect(await table.locator("thead th").last().textContent()).toBe("Why advertised");
      expect(await ad.textContent()).toContain("pod-cidrs");
      expect(await table.locator('tr[data-prefix="198.51.100.10/32"]').textContent()).toContain("vip-web");
      expect(await page.getByTestId("truncated").count()).toBe(0);

      expect(await axeProblems(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("says plainly when a node has not reported a peer's routes", async () => {
    const page = await viewer.newPage();
    try {
      await page.goto(`${app.url}/bgp/looking-glass?node=lg-node&peer=nobody`);
      await page.getByText("lg-node has not reported routes for nobody yet").waitFor();
      expect(await page.getByTestId("looking-glass-routes").count()).toBe(0);
      expect(await page.getByTestId("reported-at").textContent()).toBe("never");
    } finally {
      await page.close();
    }
  });
});

function shot(page: import("playwright-core").Page, name: string) {
  return page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}
