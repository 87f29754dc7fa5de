// The NOC wall: live over SSE, updates when an agent reports, says so when the stream drops, and
// recovers by itself after the console server restarts on the same port.
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bgpDetail } from "../src/bgp-report";
import { type RunningConsole, startConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

describe("NOC wall view (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let agent: MeridianClient;
  let ctx: BrowserContext;

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx } = session);
    const { admin } = session;
    agent = await joinNode(admin, app.url, { name: "wall-node", podCIDR: "10.9.0.0/24" });
    const current = (await admin.audit.list.query({ limit: 1 })).current;
    await agent.agent.reportStatus.mutate({
      appliedRevision: current,
      components: [{ component: "datapath", state: "ok", message: "", detail: {} }],
    });
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("updates when an agent's status changes and recovers after the server restarts", async () => {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${app.url}/noc`);
    const conn = page.getByTestId("noc-connection");
    await conn.getByText("Live").waitFor();
    await expect.poll(() => page.getByTestId("noc-in-sync").textContent()).toBe("1");
    await page.getByTestId("noc-attention-empty").waitFor();
    expect(await axeProblems(page)).toEqual([]);

    await agent.agent.reportStatus.mutate({
      components: [
        { component: "datapath", state: "error", message: "tcx attach failed on eth0: EPERM", detail: {} },
        {
          component: "bgp",
          state: "degraded",
          message: "",
          detail: bgpDetail({ "192.0.2.9": { state: "Active" } }),
        },
      ],
    });
    const attention = page.getByTestId("noc-attention");
    await attention.getByText("tcx attach failed on eth0: EPERM").waitFor({ timeout: 15_000 });
    expect(await attention.textContent()).toContain("BGP active");
    expect(await page.getByTestId("noc-bgp").textContent()).toMatch(/^0\s*\/ 1 up/);
    const before = await page.getByTestId("noc-updated").textContent();
    await page.screenshot({ path: path.join(artifacts, "noc-1080p.png") });
    await page.setViewportSize({ width: 3840, height: 2160 });
    await page.screenshot({ path: path.join(artifacts, "noc-4k.png") });
    // Nothing scrolls at either size: the wall fits the screen.
    expect(await page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")).toBe(true);
    await page.setViewportSize({ width: 1920, height: 1080 });

    await app.stop();
    await conn.getByText(/Reconnecting/).waitFor({ timeout: 30_000 });
    // The last data stays on screen, marked stale.
    expect(await attention.textContent()).toContain("tcx attach failed");
    await page.screenshot({ path: path.join(artifacts, "noc-reconnecting.png") });

    app = await startConsole(session.db.url, {}, { port: app.port });
    session.app = app;
    await conn.getByText("Live").waitFor({ timeout: 60_000 });
    await agent.agent.reportStatus.mutate({
      components: [
        { component: "datapath", state: "ok", message: "", detail: {} },
        {
          component: "bgp",
          state: "ok",
          message: "",
          detail: bgpDetail({ "192.0.2.9": { state: "Established" } }),
        },
      ],
    });
    await page.getByTestId("noc-attention-empty").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("noc-bgp").textContent()).toMatch(/^1\s*\/ 1 up/);
    expect(await page.getByTestId("noc-updated").textContent()).not.toBe(before);
    await page.close();
  }, 240_000);
});
