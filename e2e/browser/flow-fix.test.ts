// The flow → fix loop in a real browser: a default-deny drop reported by an agent, its "Why?"
// panel offering the rule that would allow it, the policy editor opened pre-filled with that rule
// on the enforcing policy, saved — after which what-if allows the same flow by the new rule and
// the panel has nothing left to fix — and the same for a new policy of its own.
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

describe("flow → fix (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let admin: MeridianClient;
  let agent: MeridianClient;
  let ctx: BrowserContext;
  let policyId = "";

  const dropAt = (source: string, port: number) =>
    agent.agent.reportFlows.mutate({
      flows: [
        {
          at: new Date(),
          source,
          destination: "10.9.0.20",
          protocol: "tcp",
          port,
          verdict: "dropped",
          reason: "policy_default",
          direction: "ingress",
          endpoint: "shop/db-0",
          ruleId: "default-deny",
          policies: ["shop/db-lockdown"],
          packets: 2,
          bytes: 148,
        },
      ],
    });
  const whatIf = (from: string) =>
    admin.policies.whatIf.query({
      source: { namespace: "other", name: from },
      destination: { endpoint: { namespace: "shop", name: "db-0" } },
      port: 5432,
      protocol: "TCP",
    });

  /** Opens the Why? panel of the newest drop from `source` on the Flows page. */
  async function openWhy(page: Page, source: string) {
    await page.goto(`${app.url}/flows?verdict=dropped&since=15m`);
    const row = page.getByTestId("flows-table").locator("tbody tr", { hasText: source }).first();
    await row.waitFor();
    await row.getByRole("link", { name: /^Why was the flow at .* dropped\?$/ }).click();
    await page.getByTestId("why-fix").waitFor();
    return page.getByTestId("why-fix");
  }

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx, admin } = session);
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
    agent = await joinNode(admin, app.url, { name: "fix-node", podCIDR: "10.9.0.0/24" });
    for (const [namespace, name, label, ipv4] of [
      ["shop", "db-0", "db", "10.9.0.20"],
      ["shop", "web-1", "web", "10.9.0.21"],
      ["other", "client", "client", "10.9.0.30"],
      ["other", "batch", "batch", "10.9.0.31"],
    ] as const) {
      await admin.endpoints.upsert.mutate({
        node: "fix-node",
        namespace,
        name,
        labels: { app: label },
        ipv4,
      });
    }
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("goes from a dropped flow to the enforcing policy's editor pre-filled with the rule, and saving it allows the flow", async () => {
    await dropAt("10.9.0.30", 5432);
    expect((await whatIf("client")).verdict).toBe("deny");
    const page = await ctx.newPage();
    const fix = await openWhy(page, "other/client");
    expect(await fix.textContent()).toContain("allow ingress from other pods app=client on TCP 5432");
    expect(await fix.locator("pre").textContent()).toContain("io.kubernetes.pod.namespace: other");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "flow-fix-why.png"), fullPage: true });

    await fix.getByRole("link", { name: "Add it to shop/db-lockdown as ingress rule 2" }).click();
    await page.waitForURL(new RegExp(`/policies/${policyId}\\?fix=\\d+$`));
    const banner = page.getByTestId("flow-fix-banner");
    expect(await banner.textContent()).toMatch(
      /Pre-filled from flow record \d+: ingress rule 2 added — allow ingress from other pods app=client on TCP 5432\. Compiled with it, the flow is allowed \(allowed by shop\/db-lockdown\/ingress\[1\]\)/,
    );
    // The rule in the form's own fields, after the policy's first rule, which is unchanged.
    expect(await page.locator("#ingress-0-peers").inputValue()).toBe("app=web");
    expect(await page.locator("#ingress-1-peers").inputValue()).toBe(
      "app=client, io.kubernetes.pod.namespace=other",
    );
    expect(await page.locator("#ingress-1-ports").inputValue()).toBe("5432/TCP");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "flow-fix-editor.png"), fullPage: true });
    // Nothing is saved by opening the editor.
    expect((await admin.policies.get.query({ id: policyId })).version).toBe(1);
    expect((await whatIf("client")).verdict).toBe("deny");

    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText(/Saved as revision \d+ \(version 2\)/).waitFor();
    const saved = await admin.policies.get.query({ id: policyId });
    expect((saved.spec as { ingress: unknown[] }).ingress[1]).toEqual({
      fromEndpoints: [{ matchLabels: { app: "client", "io.kubernetes.pod.namespace": "other" } }],
      toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }],
    });
    const after = await whatIf("client");
    expect(after.verdict).toBe("allow");
    expect(after.checks.find((c) => c.direction === "ingress")?.ruleId).toBe("shop/db-lockdown/ingress[1]");
    // Re-rendered after the save, the page says the record needs no fix any more.
    await expect
      .poll(() => banner.textContent())
      .toMatch(/Nothing to pre-fill for flow record \d+: today's policies already allow it/);
    // And only that peer: batch, of the same namespace, is still refused.
    expect((await whatIf("batch")).verdict).toBe("deny");
    await page.close();
  }, 120_000);

  it("creates the fix as a new policy of its own from the same panel", async () => {
    await dropAt("10.9.0.31", 5432);
    const page = await ctx.newPage();
    const fix = await openWhy(page, "other/batch");
    await fix.getByRole("link", { name: "Create it as a new policy shop/allow-batch-to-db-0-5432" }).click();
    await page.waitForURL(/\/policies\/new\?fix=\d+$/);
    expect(await page.locator("#name").inputValue()).toBe("allow-batch-to-db-0-5432");
    expect(await page.locator("#namespace").inputValue()).toBe("shop");
    expect(await page.locator("#selector").inputValue()).toBe("app=db");
    expect(await page.locator("#ingress-0-peers").inputValue()).toBe(
      "app=batch, io.kubernetes.pod.namespace=other",
    );
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForURL(/\/policies\/[^/?]+\?created=\d+$/);
    const after = await whatIf("batch");
    expect(after.verdict).toBe("allow");
    expect(after.ruleId ?? after.checks.at(-1)?.ruleId).toBe("shop/allow-batch-to-db-0-5432/ingress[0]");
    await page.close();
  }, 120_000);
});
