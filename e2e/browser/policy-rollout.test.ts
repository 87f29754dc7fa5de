// What a new user meets after saving a policy, in a real browser: the policy page names the pods it
// selects and says which nodes have applied it, turning to "applied on every node" live when the
// agent reports the revision; a deleted policy's address shows the console's own not-found page
// (inside the console, 404); and the audit list names what a delete and an import touched.
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

describe("policy page after saving (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let admin: MeridianClient;
  let agent: MeridianClient;
  let ctx: BrowserContext;

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx, admin } = session);
    agent = await joinNode(admin, app.url, { name: "ro-node", podCIDR: "10.77.0.0/24" });
    for (const [name, label, ipv4] of [
      ["db-0", "db", "10.77.0.10"],
      ["db-1", "db", "10.77.0.11"],
      ["web-0", "web", "10.77.0.12"],
    ] as const) {
      await admin.endpoints.upsert.mutate({
        node: "ro-node",
        namespace: "rollout",
        name,
        labels: { app: label },
        ipv4,
      });
    }
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("names the selected pods, says when every node has applied the save, and shows the console's not-found page once deleted", async () => {
    const page = await ctx.newPage();
    await page.goto(`${app.url}/policies/new`);
    await page.fill("#name", "db-only");
    await page.fill("#namespace", "rollout");
    await page.fill("#selector", "app=db");
    await page.getByRole("button", { name: "Add ingress rule" }).click();
    await page.fill("#ingress-0-peers", "app=web");
    await page.fill("#ingress-0-ports", "5432/TCP");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForURL(/\/policies\/[^/?]+\?created=\d+$/);
    const url = new URL(page.url());
    const id = url.pathname.split("/").at(-1)!;
    const revision = Number(url.searchParams.get("created"));

    const rollout = page.getByTestId("policy-rollout");
    expect(await page.getByTestId("rollout-selects").textContent()).toBe(
      "Selects 2 pods: rollout/db-0 (ro-node), rollout/db-1 (ro-node) · endpoints",
    );
    expect(await page.getByTestId("rollout-applied").textContent()).toMatch(
      new RegExp(
        `▲\\s*applying\\s*Revision ${revision}: applied on 0 of 1 nodes; waiting for ro-node \\(nothing applied yet\\)\\.`,
      ),
    );
    // The agent reports the revision applied: the page turns without a reload.
    await agent.agent.reportStatus.mutate({ appliedRevision: revision, components: [] });
    await expect
      .poll(() => page.getByTestId("rollout-applied").textContent(), { timeout: 15_000 })
      .toMatch(new RegExp(`●\\s*applied on every node\\s*Revision ${revision} is in force on all 1 node`));
    expect(await axeProblems(page)).toEqual([]);
    await rollout.screenshot({ path: path.join(artifacts, "policy-rollout.png") });

    // Deleted, its address is the console's own not-found page, inside the console's layout.
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.waitForURL(/\/policies\?deleted=db-only/);
    const gone = await page.goto(`${app.url}/policies/${id}`);
    expect(gone?.status()).toBe(404);
    await page.getByTestId("console-not-found").waitFor();
    expect(await page.getByRole("navigation").first().textContent()).toContain("Policies");
    expect(await page.getByTestId("console-not-found").textContent()).toContain("may have been deleted");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, "console-not-found.png") });
    // A deleted node and object too.
    for (const href of ["/nodes/no-such-node", "/objects/bgp-peers/00000000-0000-0000-0000-000000000000"]) {
      const r = await page.goto(`${app.url}${href}`);
      expect(r?.status()).toBe(404);
      await page.getByTestId("console-not-found").waitFor();
    }

    // The audit list names what the delete and an import touched.
    await admin.cilium.import.mutate({
      yaml: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: from-yaml, namespace: rollout }
spec:
  endpointSelector: { matchLabels: { app: web } }
`,
    });
    await page.goto(`${app.url}/audit`);
    const audit = page.locator("main");
    await audit.getByText("delete network policy rollout/db-only").waitFor();
    await audit.getByText("import 1 Cilium object: created network policy rollout/from-yaml").waitFor();
    await page.close();
  }, 120_000);

  it("serves the control plane's Prometheus metrics on /metrics to an API token only, counting the pages' calls", async () => {
    const anon = await fetch(`${app.url}/metrics`);
    expect(anon.status).toBe(401);
    expect(await anon.text()).not.toContain("meridian_api");
    const { secret } = await admin.apiTokens.create.mutate({ name: "prometheus", role: "viewer" });
    const r = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${secret}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    const text = await r.text();
    // The policy page above read policies.rollout through the console's server: counted here.
    const line = text
      .split("\n")
      .find((l) =>
        l.startsWith('meridian_api_requests_total{procedure="policies.rollout",type="query",code="OK"}'),
      );
    expect(Number(line?.split(" ").at(-1))).toBeGreaterThanOrEqual(2);
    for (const name of [
      "meridian_api_request_duration_seconds_bucket",
      "meridian_api_connected_agents",
      "meridian_api_propagation_lag_seconds",
      "meridian_api_db_pool_connections",
    ])
      expect(text).toContain(name);
  });
});
