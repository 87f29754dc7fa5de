// The console's Flows page in a real browser: flow records reported through the agent API
// (agent.reportFlows) show in the table with the pods at both ends, a new report appears without a
// reload, the namespace filter narrows the rows, a default-deny drop opens the "why" panel naming
// the policy that put the pod under enforcement (linked to its page), and the Overview and NOC
// drop tiles count the drops by reason.
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

describe("Flows page (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let agent: MeridianClient;
  let ctx: BrowserContext;
  let policyId = "";

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx } = session);
    const { admin } = session;
    policyId = (
      await admin.policies.create.mutate({
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
    agent = await joinNode(admin, app.url, { name: "flows-node", podCIDR: "10.8.0.0/24" });
    for (const [namespace, name, app_, ipv4] of [
      ["shop", "db-0", "db", "10.8.0.20"],
      ["shop", "web-1", "web", "10.8.0.21"],
      ["other", "client", "client", "10.8.0.30"],
    ] as const) {
      await admin.endpoints.upsert.mutate({
        node: "flows-node",
        namespace,
        name,
        labels: { app: app_ },
        ipv4,
      });
    }
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("shows reported flows live, narrows them by namespace, and explains a default-deny drop", async () => {
    const page = await ctx.newPage();
    await page.goto(`${app.url}/flows`);
    await page.getByText(/Live · updated/).waitFor();
    expect(await page.getByTestId("flows-empty").textContent()).toContain("No agent has reported flows yet");

    // Reported while the page is open: the report wakes the live stream and the table re-renders.
    const now = Date.now();
    await agent.agent.reportFlows.mutate({
      flows: [
        {
          at: new Date(now - 2000),
          source: "10.8.0.21",
          destination: "10.8.0.20",
          protocol: "tcp",
          port: 5432,
          verdict: "forwarded",
          direction: "ingress",
          endpoint: "shop/db-0",
          ruleId: "shop/db-lockdown/ingress[0]",
          policies: ["shop/db-lockdown"],
          packets: 1,
          bytes: 74,
        },
        {
          at: new Date(now - 1000),
          source: "10.8.0.30",
          destination: "10.8.0.20",
          protocol: "tcp",
          port: 5432,
          verdict: "forwarded",
          direction: "egress",
          endpoint: "other/client",
          packets: 1,
          bytes: 74,
        },
        {
          at: new Date(now),
          source: "10.8.0.30",
          destination: "10.8.0.20",
          protocol: "tcp",
          port: 5432,
          verdict: "dropped",
          reason: "policy_default",
          direction: "ingress",
          endpoint: "shop/db-0",
          ruleId: "default-deny",
          policies: ["shop/db-lockdown"],
          packets: 3,
          bytes: 222,
          suppressed: 2,
        },
      ],
    });
    const table = page.getByTestId("flows-table");
    await table.getByText("policy_default").waitFor({ timeout: 15_000 });
    const text = await table.textContent();
    expect(text).toContain("other/client (10.8.0.30)");
    expect(text).toContain("shop/db-0 (10.8.0.20:5432)");
    expect(text).toContain("shop/web-1 (10.8.0.21)");
    expect(text).toMatch(/■\s*dropped/);
    expect(text).toContain("(+2 held back)");
    expect(await table.locator("tbody tr").count()).toBe(3);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "flows-page.png"), fullPage: true });

    // The namespace filter keeps the flow seen at other/client, not the ones seen at shop/db-0.
    await page.fill("input[name=namespace]", "other");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/namespace=other/);
    await expect.poll(() => table.locator("tbody tr").count()).toBe(1);
    expect(await table.textContent()).toMatch(/other\/client \(10\.8\.0\.30\).*●\s*forwarded/);
    await page.fill("input[name=namespace]", "nowhere");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/namespace=nowhere/);
    expect(await page.getByTestId("flows-empty").textContent()).toContain(
      "No flows in the last 1h match the filter",
    );

    // Why was it dropped: the default deny, and the policy whose selection put db-0 under it.
    await page.getByRole("link", { name: "Clear" }).click();
    await page.waitForURL(/\/flows\?since=1h$/);
    await page.selectOption("select[name=verdict]", "dropped");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/verdict=dropped/);
    await page.getByRole("link", { name: /^Why was the flow at .* dropped\?$/ }).click();
    const why = page.getByTestId("flow-why");
    await why.waitFor();
    expect(await page.getByTestId("why-summary").textContent()).toBe(
      "shop/db-0 is under default deny for ingress because policy shop/db-lockdown selects it, and no ingress rule of the policies that select it allows other/client on TCP port 5432.",
    );
    expect(await why.textContent()).toContain("2 more drop events of this kind");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "flows-why.png"), fullPage: true });
    await page.getByTestId("why-policies").getByRole("link", { name: "shop/db-lockdown" }).click();
    await page.waitForURL(new RegExp(`/policies/${policyId}$`));
    await page
      .getByRole("heading", { name: /db-lockdown/ })
      .first()
      .waitFor();

    // The drop tiles: 3 reported + 2 held back, by reason, on the Overview and the NOC wall.
    await page.goto(app.url);
    const tile = page.getByTestId("drops-tile");
    await page.screenshot({ path: path.join(artifacts, "overview-drops.png"), fullPage: true });
    expect(await tile.textContent()).toMatch(
      /5\s*■\s*packets dropped\s*5\s*policy_default\s*Top rule: default deny of shop\/db-lockdown/,
    );
    // A reason on the tile opens those drops on the Flows page, the filter set in its form.
    await tile.getByRole("link", { name: /policy_default/ }).click();
    await page.waitForURL(/verdict=dropped&reason=policy_default&since=15m/);
    await expect.poll(() => page.getByTestId("flows-table").locator("tbody tr").count()).toBe(1);
    expect(await page.locator("select[name=reason]").inputValue()).toBe("policy_default");
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${app.url}/noc`);
    await expect.poll(() => page.getByTestId("noc-drops").textContent()).toBe("5 packets");
    expect(await page.getByTestId("noc-drop-reasons").textContent()).toContain("policy_default 5");
    await page.screenshot({ path: path.join(artifacts, "noc-drops.png") });
    await page.close();
  }, 90_000);
});
