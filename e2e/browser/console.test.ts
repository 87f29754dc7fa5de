// The console end to end: production build, real PostgreSQL, Debian Chromium. One server for the
// whole file; every step works through the pages a network engineer would use.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import { seedDatabase } from "@meridian/api/seed";
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bgpDetail } from "../src/bgp-report";
import { launchBrowser } from "../src/browser";
import { buildConsole, type RunningConsole, repoRoot, startConsole } from "../src/console";
import { axeProblems, joinNode, signIn, userClient } from "../src/session";

const artifacts = path.join(repoRoot, "e2e", "artifacts");
const VIEWER = { email: "viewer@meridian.local", password: "viewer-password-123" };

describe("console (production build, real PostgreSQL, Debian Chromium)", () => {
  let db: TestDatabase;
  let app: RunningConsole;
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  let admin: MeridianClient;
  let agent: MeridianClient;
  let ctx: BrowserContext;
  let adminEmail: string;
  let policyId = "";
  let createdRevision = 0;

  // Every page holds a status stream (SSE); a page left open by a failed test would eat the
  // browser's six connections per host, so each test's pages are closed after it, pass or fail.
  const open: Page[] = [];
  const newPage = async (context: BrowserContext = ctx) => {
    const page = await context.newPage();
    open.push(page);
    return page;
  };
  afterEach(async () => {
    for (const page of open.splice(0)) await page.close().catch(() => {});
  });

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    buildConsole();
    db = await createTestDatabase();
    const seeded = await seedDatabase(db.prisma);
    adminEmail = seeded.adminEmail;
    app = await startConsole(db.url);
    admin = await userClient(app.url, seeded.adminEmail, seeded.adminPassword!);
    agent = await joinNode(admin, app.url, {
      name: "node-a",
      podCIDR: "10.1.0.0/24",
      labels: { "meridian.io/bgp": "enabled" },
    });
    await agent.agent.reportStatus.mutate({
      appliedRevision: 0,
      components: [{ component: "datapath", state: "ok", message: "programs attached", detail: {} }],
    });
    for (const [name, app_, ip] of [
      ["client", "client", "10.1.0.10"],
      ["backend", "backend", "10.1.0.11"],
    ] as const) {
      await admin.endpoints.upsert.mutate({
        node: "node-a",
        namespace: "default",
        name,
        labels: { app: app_ },
        ipv4: ip,
      });
    }
    await admin.users.create.mutate({ ...VIEWER, name: "Wall viewer", role: "viewer" });
    ({ browser, close: closeBrowser } = await launchBrowser());
    ctx = await signIn(browser, app.url, seeded.adminEmail, seeded.adminPassword!);
  }, 600_000);

  afterAll(async () => {
    await closeBrowser?.();
    await app?.stop();
    await db?.drop();
  });

  it("shows the frame, the role and live health on the overview", async () => {
    const page = await newPage();
    await page.goto(app.url);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await page.getByTestId("role").textContent()).toBe("admin");
    await page.getByText(/Live · updated/).waitFor();
    const nav = page.getByRole("navigation", { name: "Main" });
    for (const item of ["Overview", "Nodes", "Endpoints", "Policies", "BGP", "Audit", "Admin", "NOC"])
      expect(await nav.getByRole("link", { name: item, exact: true }).count()).toBe(1);
    // The latest changes, newest first: the admin registered node-a and its agent joined.
    expect(await page.getByText("node node-a joined").count()).toBeGreaterThan(0);
    await shot(page, "overview");
    await page.close();
  });

  it("creates a policy through the form, with a validation error shown beside its field first", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/policies/new`);
    await page.getByLabel("Name", { exact: true }).fill("web-ingress");
    await page.getByLabel("Description").fill("frontend reaches the backend");
    await page.getByLabel("Selected pods (endpoint selector)").fill("app=backend");
    await page.getByRole("button", { name: "Add ingress rule" }).click();
    await page.getByLabel("From pods (one selector per line)").fill("app=client");
    await page.getByLabel("From CIDRs").fill("10.0.0.1/8");
    await page.getByLabel("Ports").fill("8080/TCP");
    await page.getByRole("button", { name: "Create policy" }).click();
    // The message sits under the CIDR field and is tied to it.
    const cidrErrors = page.locator("#ingress-0-cidrs-errors");
    await cidrErrors.waitFor();
    expect(await cidrErrors.textContent()).toContain("host bits set in 10.0.0.1/8");
    expect(await page.getByLabel("From CIDRs").getAttribute("aria-invalid")).toBe("true");
    await shot(page, "policy-validation");
    await page.getByLabel("From CIDRs").fill("");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForURL(/\/policies\/[0-9a-f-]{36}\?created=\d+/);
    const url = new URL(page.url());
    policyId = url.pathname.split("/").pop()!;
    createdRevision = Number(url.searchParams.get("created"));
    await page.getByText(/Created in revision/).waitFor();
    expect(await page.getByRole("figure").textContent()).toContain("pods: app=client");
    await shot(page, "policy-editor");
    await page.close();
  });

  it("reports a conflict naming who changed the policy when two pages edit it", async () => {
    const a = await newPage();
    const b = await newPage();
    await a.goto(`${app.url}/policies/${policyId}`);
    await b.goto(`${app.url}/policies/${policyId}`);
    await b.getByLabel("Description").fill("edited in page B");
    await b.getByRole("button", { name: "Save changes" }).click();
    await b.getByText(/Saved as revision/).waitFor();
    await a.getByLabel("Description").fill("edited in page A");
    await a.getByRole("button", { name: "Save changes" }).click();
    const alert = a.getByTestId("form-error");
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toContain("Conflict");
    expect(text).toContain(`changed by ${adminEmail}`);
    expect(text).toContain("description");
    await shot(a, "policy-conflict");
    await a.getByRole("button", { name: "Load their version" }).click();
    await expect.poll(() => a.getByLabel("Description").inputValue()).toBe("edited in page B");
    await a.getByLabel("Description").fill("edited in page A after reload");
    await a.getByRole("button", { name: "Save changes" }).click();
    await a.getByText(/Saved as revision/).waitFor();
    const p = await admin.policies.get.query({ id: policyId });
    expect(p.description).toBe("edited in page A after reload");
    await a.close();
    await b.close();
  });

  it("edits through the YAML view (Cilium import) and creates, then deletes, a policy imported as YAML", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/policies/${policyId}`);
    await page.getByRole("tab", { name: "YAML" }).click();
    const yaml = page.getByLabel(/Cilium YAML/);
    const text = await yaml.inputValue();
    expect(text).toContain("kind: CiliumNetworkPolicy");
    await yaml.fill(text.replace('"8080"', '"9090"').replace("port: 8080", "port: 9090"));
    await page.getByRole("button", { name: "Import YAML" }).click();
    await page.getByText(/NetworkPolicy web-ingress updated/).waitFor();
    const p = await admin.policies.get.query({ id: policyId });
    expect(JSON.stringify(p.spec)).toContain("9090");

    await page.goto(`${app.url}/import`);
    await page
      .getByLabel(/YAML \(several documents/)
      .fill(
        [
          "apiVersion: cilium.io/v2",
          "kind: CiliumNetworkPolicy",
          "metadata:",
          "  name: temp-deny",
          "  namespace: default",
          "spec:",
          "  endpointSelector:",
          "    matchLabels:",
          "      app: frontend",
          "  egressDeny:",
          "    - toCIDR: [203.0.113.0/24]",
        ].join("\n"),
      );
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByRole("link", { name: "temp-deny" }).click();
    await page.waitForURL(/\/policies\/[0-9a-f-]{36}/);
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.waitForURL(/\/policies\?deleted=temp-deny/);
    await page.getByText("Deleted temp-deny.").waitFor();
    expect((await admin.policies.list.query({ search: "temp-deny" })).total).toBe(0);

    // A broken document is refused as a whole, with the field named.
    await page.goto(`${app.url}/import`);
    await page
      .getByLabel(/YAML \(several documents/)
      .fill(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: default}\nspec:\n  endpointSelector: {}\n  ingress:\n    - fromCIDR: [10.0.0.1/8]\n",
      );
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.locator("#import-errors").waitFor();
    expect(await page.locator("#import-errors").textContent()).toMatch(/host bits set in 10.0.0.1\/8/);
    expect((await admin.policies.list.query({ search: "bad" })).total).toBe(0);
    await page.close();
  });

  it("refuses YAML of a policy changed since it was exported, naming who changed it, and imports the rest only when asked", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/policies/${policyId}`);
    await page.getByRole("tab", { name: "YAML" }).click();
    const yaml = page.getByLabel(/Cilium YAML/);
    const exported = await yaml.inputValue();
    const before = await admin.policies.get.query({ id: policyId });
    expect(exported).toContain(`meridian.io/version: "${before.version}"`);
    // Someone else changes the policy while this YAML is being edited.
    const theirs = await admin.policies.update.mutate({
      id: policyId,
      version: before.version,
      description: "changed while the YAML was out",
    });
    await yaml.fill(exported.replace(/port: "?9090"?/, 'port: "9191"'));
    await page.getByRole("button", { name: "Import YAML" }).click();
    const alert = page.getByTestId("form-error");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Conflict");
    expect(await alert.textContent()).toContain(
      `changed by ${adminEmail} at ${theirs.updatedAt.toISOString()}`,
    );
    await shot(page, "policy-import-conflict");
    expect(JSON.stringify((await admin.policies.get.query({ id: policyId })).spec)).toContain("9090");

    // The Import page: a stale policy beside a new one. Nothing is imported until asked, then only the new one.
    await page.goto(`${app.url}/import`);
    const newPolicy = [
      "apiVersion: cilium.io/v2",
      "kind: CiliumNetworkPolicy",
      "metadata:",
      "  name: temp-allow",
      "  namespace: default",
      "spec:",
      "  endpointSelector:",
      "    matchLabels:",
      "      app: nothing-here",
      "  ingress:",
      "    - fromEntities: [cluster]",
    ].join("\n");
    await page
      .getByLabel(/YAML \(several documents/)
      .fill(`${exported.replace(/port: "?9090"?/, 'port: "9191"')}---\n${newPolicy}\n`);
    await page.getByRole("button", { name: "Import", exact: true }).click();
    const errors = page.getByTestId("import-errors");
    await errors.waitFor();
    expect(await errors.textContent()).toContain("Conflict — nothing was imported");
    expect(await errors.textContent()).toContain(`NetworkPolicy default/web-ingress`);
    expect(await errors.textContent()).toContain(`was changed by ${adminEmail}`);
    expect((await admin.policies.list.query({ search: "temp-allow" })).total).toBe(0);
    await shot(page, "import-conflict");
    await page.getByRole("button", { name: "Import the others, leave these as they are" }).click();
    const done = page.getByRole("status").filter({ hasText: "Imported as revision" });
    await done.waitFor();
    expect(await done.textContent()).toMatch(/temp-allow: created/);
    expect(await done.textContent()).toMatch(
      /web-ingress: not imported, network policy default\/web-ingress was changed by/,
    );
    const created = await admin.policies.list.query({ search: "temp-allow" });
    expect(created.total).toBe(1);
    expect(JSON.stringify((await admin.policies.get.query({ id: policyId })).spec)).toContain("9090");
    await admin.policies.delete.mutate({ id: created.items[0]!.id, version: created.items[0]!.version });
    await page.close();
  });

  it("refuses a policy whose import would allow more than in Cilium, and imports it once the difference is acknowledged", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/import`);
    await page
      .getByLabel(/YAML \(several documents/)
      .fill(
        [
          "apiVersion: apps/v1",
          "kind: Deployment",
          "metadata: {name: web}",
          "---",
          "apiVersion: cilium.io/v2",
          "kind: CiliumNetworkPolicy",
          "metadata: {name: http-only-get, namespace: default}",
          "spec:",
          "  endpointSelector: {matchLabels: {app: api}}",
          "  ingress:",
          "    - fromEndpoints: [{matchLabels: {app: web}}]",
          "      toPorts:",
          '        - ports: [{port: "80", protocol: TCP}]',
          "          rules: {http: [{method: GET}]}",
        ].join("\n"),
      );
    await page.getByRole("button", { name: "Import", exact: true }).click();
    const errors = page.getByTestId("import-errors");
    await errors.waitFor();
    expect(await errors.textContent()).toContain(
      "NetworkPolicy http-only-get not imported: it would allow traffic the original denies (L7 HTTP rules are not enforced: port 80/TCP now allows every request",
    );
    expect((await admin.policies.list.query({ search: "http-only-get" })).total).toBe(0);
    await shot(page, "import-refused-difference");
    await page.getByLabel(/Import objects that will allow or deny other traffic/).check();
    await page.getByRole("button", { name: "Import", exact: true }).click();
    const done = page.getByRole("status").filter({ hasText: "Imported as revision" });
    await done.waitFor();
    expect(await page.getByTestId("import-unsupported").textContent()).toContain(
      "Allows more than in Cilium: CiliumNetworkPolicy/default/http-only-get spec.ingress[0].toPorts[0].rules.http",
    );
    expect(await page.getByTestId("import-skipped").textContent()).toContain(
      "document 0 (Deployment web): Deployment (apps/v1) is not a Cilium object",
    );
    const created = await admin.policies.list.query({ search: "http-only-get" });
    expect(created.total).toBe(1);
    await admin.policies.delete.mutate({ id: created.items[0]!.id, version: created.items[0]!.version });
  });

  it("answers what-if with the verdict and the deciding rule", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/policies/what-if`);
    await page.getByLabel("Source endpoint").fill("default/client");
    await page.getByLabel("Destination", { exact: true }).fill("default/backend");
    await page.getByLabel("Port").fill("9090");
    await page.getByRole("button", { name: "Ask" }).click();
    const answer = page.getByTestId("what-if-answer");
    await expect.poll(() => answer.getByTestId("verdict").textContent()).toContain("Allowed");
    expect(await page.getByTestId("deciding-rule").textContent()).toContain("web-ingress");
    expect(await answer.textContent()).toContain("no policy selects default/client for egress");
    await shot(page, "what-if");
    await page.getByLabel("Port").fill("22");
    await page.getByRole("button", { name: "Ask" }).click();
    await expect.poll(() => answer.getByTestId("verdict").textContent()).toContain("Denied");
    expect(await answer.textContent()).toMatch(/default deny/);
    await page.close();
  });

  it("creates a BGP peer and shows its session state as the agent reports it, live", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/objects/bgp-peers/new`);
    await page.getByLabel("Name", { exact: true }).fill("edge-1");
    await page.getByLabel("BGP instance").fill("tor");
    await page.getByLabel("Peer address").fill("192.0.2.1");
    await page.getByLabel("Peer ASN").fill("0");
    await page.getByRole("button", { name: "Create BGP peer" }).click();
    await page.locator("#f-peerASN-errors").waitFor();
    expect(await page.locator("#f-peerASN-errors").textContent()).toMatch(/ASN 0 is out of range/);
    await page.getByLabel("Peer ASN").fill("65001");
    // Installing routes needs an import policy; a bad rule is named beside the policy.
    await page.getByLabel("Install accepted routes into the node's kernel").check();
    await page.getByRole("button", { name: "Create BGP peer" }).click();
    const policyErrors = page.locator("#f-importPolicy-errors");
    await policyErrors.waitFor();
    expect(await policyErrors.textContent()).toMatch(/installRoutes needs an importPolicy/);
    const policy = page.getByLabel("Import policy (YAML)");
    await policy.fill("rules:\n  - prefix: 10.1.0.1/16\n    le: 24\n    action: accept\n");
    await page.getByRole("button", { name: "Create BGP peer" }).click();
    await expect
      .poll(() => policyErrors.textContent())
      .toContain("rules.0.prefix: host bits set in 10.1.0.1/16, did you mean 10.1.0.0/16");
    await policy.fill("rules:\n  - prefix: 10.1.0.0/16\n    le: 24\n    action: accept\n");
    await page.getByRole("button", { name: "Create BGP peer" }).click();
    await page.waitForURL(/\/objects\/bgp-peers\/[0-9a-f-]{36}\?created=/);
    const created = (await admin.bgp.peers.list.query({ search: "edge-1" })).items[0]!;
    expect(created.spec).toMatchObject({
      installRoutes: true,
      importPolicy: { rules: [{ prefix: "10.1.0.0/16", le: 24, action: "accept" }], default: "reject" },
    });

    await page.goto(`${app.url}/bgp`);
    const row = page.locator('tr[data-peer="edge-1"]');
    await row.getByText("no agent report").waitFor();
    const reportedAt = Date.now();
    await agent.agent.reportStatus.mutate({
      components: [
        {
          component: "bgp",
          state: "ok",
          message: "1 session",
          detail: bgpDetail({
            "192.0.2.1": {
              name: "edge-1",
              state: "Established",
              uptimeSeconds: 125,
              prefixesReceived: 12,
              prefixesAdvertised: 3,
            },
          }),
        },
      ],
    });
    // No reload: the status subscription re-renders the page.
    await row.getByText("established on node-a").waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain("12 / 3");
    // 125 s at the report, plus the seconds since: the uptime keeps counting between reports, so
    // a page drawn later shows it that much older. Bounds from this test's own clock: an uptime
    // regex failed once the run passed 2m 59s.
    const shownUptime = async () => {
      const [, m, sec] = /(\d+)m (\d+)s/.exec((await row.textContent()) ?? "") ?? [];
      return Number(m) * 60 + Number(sec);
    };
    const sinceReport = () => Math.ceil((Date.now() - reportedAt) / 1000);
    expect(await shownUptime()).toBeGreaterThanOrEqual(125);
    expect(await shownUptime()).toBeLessThanOrEqual(125 + sinceReport() + 1);
    await new Promise((r) => setTimeout(r, Math.max(0, reportedAt + 3_000 - Date.now())));
    await page.reload();
    await row.getByText("established on node-a").waitFor({ timeout: 15_000 });
    expect(await shownUptime()).toBeGreaterThanOrEqual(127);
    expect(await shownUptime()).toBeLessThanOrEqual(125 + sinceReport() + 1);
    await shot(page, "bgp");
    await agent.agent.reportStatus.mutate({
      components: [
        {
          component: "bgp",
          state: "degraded",
          message: "1 of 1 sessions down",
          detail: bgpDetail({
            "192.0.2.1": {
              name: "edge-1",
              state: "Idle",
              lastError: "hold timer expired (no KEEPALIVE for 90 s)",
            },
          }),
        },
      ],
    });
    await row.getByText("idle on node-a").waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain("hold timer expired");
    await page.close();
  });

  it("shows an egress policy as not enforced until a node's egress datapath reports it, then what it does", async () => {
    await admin.egress.create.mutate({
      name: "shop-out",
      spec: {
        selectors: [{ podSelector: { matchLabels: { app: "client" } } }],
        destinationCIDRs: ["203.0.113.0/24"],
        gateways: [{ nodeName: "node-a" }],
      },
    });
    const page = await newPage();
    await page.goto(`${app.url}/egress`);
    // No node reports an egress datapath: "enabled" must not pass for enforced.
    expect(await page.getByTestId("egress-not-enforced").textContent()).toContain("Not enforced");
    expect(await page.getByTestId("egress-live").textContent()).toContain("No node reports taking part");
    await agent.agent.heartbeat.mutate({ appliedRevision: 0 });
    await agent.agent.reportStatus.mutate({
      components: [
        {
          component: "egress",
          state: "ok",
          message: "1 policy",
          detail: {
            policies: [
              {
                policy: "shop-out",
                role: "source+gateway",
                mode: { ipv4: "snat", ipv6: null },
                activeGateway: "node-a",
                egressIP: "10.1.0.250",
                selectedLocalPods: 1,
                missingLocalPods: 0,
                snatEntries: 7,
                problems: [],
              },
            ],
            counters: {},
          },
        },
      ],
    });
    // The status subscription re-renders the page with the report beside the intent.
    const row = page.locator('tr[data-policy="shop-out"][data-node="node-a"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain("IPv4: translates to the egress IP");
    expect(await row.textContent()).toContain("10.1.0.250");
    expect(await page.getByTestId("egress-not-enforced").count()).toBe(0);
    const policyRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: "shop-out" }) });
    expect(await policyRow.textContent()).toContain("forwarding");
    expect(await page.getByTestId("egress-failover").textContent()).toContain("never");
    await shot(page, "egress-live");
    // The node's probes lost node-a and it moved new connections to node-b: the page says which
    // gateway is active now, that it failed over from the first one, and when and how fast.
    await agent.agent.reportStatus.mutate({
      components: [
        {
          component: "egress",
          state: "ok",
          message: "1 policy",
          detail: {
            policies: [
              {
                policy: "shop-out",
                role: "source+gateway",
                mode: { ipv4: "steer", ipv6: null },
                activeGateway: "node-b",
                intendedGateway: "node-a",
                gateways: [
                  { node: "node-a", healthy: false, reason: "timeout" },
                  { node: "node-b", healthy: true, lastCheck: "2026-12-02T20:00:05.000Z" },
                ],
                failovers: 1,
                lastFailover: {
                  at: "2026-12-02T20:00:00.400Z",
                  from: "node-a",
                  to: "node-b",
                  reason: "timeout",
                  durationMs: 412,
                },
                egressIP: null,
                selectedLocalPods: 1,
                missingLocalPods: 0,
                snatEntries: 0,
                problems: [],
              },
            ],
            counters: {},
          },
        },
      ],
    });
    const failoverRow = page.getByTestId("egress-failover").locator('tr[data-policy="shop-out"]');
    await failoverRow.getByText("failed over from node-a").waitFor({ timeout: 15_000 });
    expect(await failoverRow.getByTestId("egress-active-gateway").textContent()).toContain("node-b");
    expect(await failoverRow.locator('[data-gateway="node-a"]').textContent()).toContain("down (timeout)");
    expect(await failoverRow.locator('[data-gateway="node-b"]').textContent()).toContain("healthy");
    expect(await failoverRow.getByTestId("egress-last-failover").textContent()).toBe(
      "node-a → node-b at 2026-12-02T20:00:00.400Z (timeout, 412 ms; seen by node-a)",
    );
    expect(await policyRow.textContent()).toContain("degraded");
    await shot(page, "egress-failover");
  });

  it("restores a revision after a confirmation that shows what will change", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/audit/${createdRevision}`);
    await page.getByRole("heading", { name: `Revision ${createdRevision}` }).waitFor();
    await page.getByRole("button", { name: `Restore revision ${createdRevision}…` }).click();
    const restoreSection = page.getByRole("region", { name: "Restore" });
    expect(await restoreSection.getByTestId("diff").textContent()).toContain("web-ingress");
    await shot(page, "audit-restore");
    await page.getByRole("button", { name: `Yes, restore revision ${createdRevision}` }).click();
    await page.getByText(/Restored: \d+ object\(s\) changed/).waitFor();
    // The page refreshes itself (nothing left to restore now) and the outcome stays on screen.
    await restoreSection.getByText("No differences.").waitFor();
    expect(await page.getByText(/Restored: \d+ object\(s\) changed/).count()).toBe(1);
    const p = await admin.policies.get.query({ id: policyId });
    expect(p.description).toBe("frontend reaches the backend");
    expect(JSON.stringify(p.spec)).toContain("8080");
    await page.goto(`${app.url}/audit`);
    expect(await page.getByText(`restore revision ${createdRevision}`).count()).toBeGreaterThan(0);
    await page.close();
  });

  it("shows a viewer no edit controls, and the server refuses the viewer anyway", async () => {
    const viewerCtx = await signIn(browser, app.url, VIEWER.email, VIEWER.password);
    const page = await newPage(viewerCtx);
    await page.goto(`${app.url}/policies`);
    expect(await page.getByTestId("role").textContent()).toBe("viewer");
    expect(await page.getByRole("link", { name: "New policy" }).count()).toBe(0);
    await page.goto(`${app.url}/policies/${policyId}`);
    await page.getByText("this policy is read-only").waitFor();
    expect(await page.getByRole("button", { name: "Save changes" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Delete" }).count()).toBe(0);
    expect(await page.getByLabel("Description").getAttribute("readonly")).not.toBeNull();
    await page.goto(`${app.url}/bgp`);
    expect(await page.getByRole("link", { name: "New peer" }).count()).toBe(0);
    await page.goto(`${app.url}/audit/${createdRevision}`);
    expect(await page.getByRole("button", { name: /Restore revision/ }).count()).toBe(0);
    await viewerCtx.close();

    const viewer = await userClient(app.url, VIEWER.email, VIEWER.password);
    const p = await admin.policies.get.query({ id: policyId });
    await expect(
      viewer.policies.update.mutate({ id: policyId, version: p.version, description: "viewer was here" }),
    ).rejects.toThrow(/needs the operator role/);
  });

  it("scrolls 1,200 endpoints as one virtualised list that keyboard and screen readers can walk to the end", async () => {
    const nodeA = await db.prisma.node.findUniqueOrThrow({ where: { name: "node-a" } });
    const client = await db.prisma.endpoint.findFirstOrThrow({ where: { name: "client" } });
    await db.prisma.endpoint.createMany({
      data: Array.from({ length: 1200 }, (_, i) => ({
        nodeId: nodeA.id,
        namespace: "bulk",
        name: `pod-${String(i).padStart(4, "0")}`,
        labels: { app: "client" },
        ipv4: `10.1.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`,
        identityNumber: client.identityNumber,
      })),
    });
    const page = await newPage();
    await page.goto(`${app.url}/endpoints?namespace=bulk`);
    const table = page.getByRole("table", { name: "Endpoints (pods)" });
    // The whole list is announced; only the rows near the viewport are in the DOM.
    expect(await table.getAttribute("aria-rowcount")).toBe("1201");
    const drawn = await table.locator("tbody tr[aria-rowindex]").count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(100);

    // Keyboard: Tab reaches the first row's link; arrows move between rows; End goes to the last row,
    // whose page the grid fetches from the server.
    // (e2e compiles without the DOM types: page code is passed as strings)
    const focusedRow = () =>
      page.evaluate("document.activeElement && document.activeElement.getAttribute('aria-rowindex')");
    // Polls wait up to 5 s, not the default 1 s: on a loaded 2-core machine a jump to the other
    // end (scroll, render, focus) once took longer than a second.
    await table.locator('tr[aria-rowindex="2"] a').first().focus();
    await page.keyboard.press("ArrowDown");
    await expect.poll(() => focusedRow(), { timeout: 5_000 }).toBe("3");
    expect(await page.evaluate("document.activeElement.textContent")).toContain("bulk/pod-0001");
    await page.keyboard.press("End");
    await expect.poll(() => focusedRow(), { timeout: 5_000 }).toBe("1201");
    const last = table.locator('tr[aria-rowindex="1201"]');
    await last.getByText("bulk/pod-1199").waitFor();
    expect(await last.getByRole("link", { name: "node-a" }).count()).toBe(1);
    await shot(page, "endpoints-end");
    await page.keyboard.press("Home");
    await expect.poll(() => focusedRow(), { timeout: 5_000 }).toBe("2");

    // Scrolling with the mouse or scrollbar: the rows in the middle arrive as they come into view.
    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)");
    const middle = table
      .locator("tbody tr[aria-rowindex]:not([aria-busy])")
      .filter({ hasText: /bulk\/pod-0[5-7]\d\d/ });
    await middle.first().waitFor();
    expect(await table.locator("tbody tr[aria-rowindex]").count()).toBeLessThan(100);
    expect(await axeProblems(page)).toEqual([]);
    await page.close();
  });

  it("passes axe-core (no serious or critical violations) on the main pages and saves their screenshots", async () => {
    const page = await newPage();
    const pages: [string, string][] = [
      ["overview", "/"],
      ["nodes", "/nodes"],
      ["node", "/nodes/node-a"],
      ["endpoints", "/endpoints"],
      ["policies", "/policies"],
      ["policy", `/policies/${policyId}`],
      ["what-if-form", "/policies/what-if"],
      ["bgp", "/bgp"],
      ["egress", "/egress"],
      ["srv6", "/srv6"],
      ["audit", `/audit?from=${createdRevision}&to=${createdRevision + 1}`],
      ["admin", "/admin"],
      ["import", "/import"],
      ["noc", "/noc"],
    ];
    const problems: string[] = [];
    for (const [name, route] of pages) {
      await page.goto(`${app.url}${route}`);
      await page.waitForLoadState("load");
      await page.waitForTimeout(300);
      problems.push(...(await axeProblems(page)).map((p) => `${route}: ${p}`));
      if (!["overview", "bgp", "what-if-form"].includes(name)) await shot(page, name);
    }
    expect(problems).toEqual([]);
    await page.close();
  });
});
