// The console's DNS page in a real browser: a node's proxy status and query events reported
// through the agent API show as proxy health, learned names with TTL left, the policy's rules and
// recent queries; the verdict filter narrows the log; no accessibility problems.
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

describe("DNS page (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let agent: MeridianClient;
  let ctx: BrowserContext;

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx } = session);
    const { admin } = session;
    await admin.policies.create.mutate({
      namespace: "shop",
      name: "demo-fqdn",
      spec: {
        endpointSelector: { matchLabels: { app: "client" } },
        egress: [
          {
            toCIDR: ["10.99.0.53/32"],
            toPorts: [
              { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchName: "ext1.lab" }] } },
            ],
          },
          { toFQDNs: [{ matchName: "ext1.lab" }], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] },
        ],
      },
    });
    agent = await joinNode(admin, app.url, { name: "dns-node", podCIDR: "10.9.1.0/24" });
    await agent.agent.reportStatus.mutate({
      components: [
        {
          component: "dns",
          state: "ok",
          message: "proxy on :10053; 1 allowed, 1 denied, 0 datapath timeouts",
          detail: {
            proxyPort: 10053,
            learned: 1,
            redirectedEndpoints: 1,
            stats: {
              queries: 2,
              allowed: 1,
              denied: 1,
              malformed: 0,
              dropped: 0,
              upstreamFailures: 0,
              datapathTimeouts: 0,
            },
            entries: [
              {
                endpoint: "shop/client-1",
                address: "10.99.0.200",
                names: ["ext1.lab"],
                expiresAt: new Date(Date.now() + 600_000).toISOString(),
                heldByConnection: false,
              },
            ],
          },
        },
      ],
    });
    await agent.agent.reportDnsEvents.mutate({
      events: [
        {
          at: new Date(Date.now() - 1000),
          endpoint: "shop/client-1",
          qname: "ext1.lab",
          answers: ["10.99.0.200"],
          verdict: "allowed",
          rule: "shop/demo-fqdn matchName:ext1.lab",
        },
        {
          at: new Date(),
          endpoint: "shop/client-1",
          qname: "blocked.lab",
          rcode: "REFUSED",
          verdict: "denied",
          reason: "no DNS rule allows blocked.lab",
        },
      ],
    });
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("shows proxy health, rules, learned names and queries; the verdict filter narrows the log", async () => {
    const page = await ctx.newPage();
    await page.goto(`${app.url}/dns`);
    const proxies = await page.getByTestId("dns-proxies").textContent();
    expect(proxies).toContain("dns-node");
    expect(proxies).toMatch(/●\s*ok/);
    expect(await page.getByTestId("dns-rules").textContent()).toContain("shop/demo-fqdn");
    const learned = await page.getByTestId("dns-learned").textContent();
    expect(learned).toContain("10.99.0.200");
    expect(learned).toMatch(/(9|10) min \d+ s/);
    const queries = await page.getByTestId("dns-queries").textContent();
    expect(queries).toContain("blocked.lab");
    expect(queries).toMatch(/■\s*denied/);
    expect(queries).toContain("no DNS rule allows blocked.lab");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "dns-page.png"), fullPage: true });

    await page.selectOption("select[name=verdict]", "allowed");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/verdict=allowed/);
    const filtered = await page.getByTestId("dns-queries").textContent();
    expect(filtered).toContain("ext1.lab");
    expect(filtered).not.toContain("blocked.lab");
  }, 60_000);
});
