// The console's SRv6 page in a real browser: beside each VRF's intent (the SID the control plane
// allocated on each node) it shows what the node's agent reported through the agent API — the SID in
// its datapath and its drop counters by reason, the static policy it installed — and says "not
// reported" for a node whose agent has not; no accessibility problems.
import path from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningConsole } from "../src/console";
import { artifacts, type ConsoleSession, openConsole } from "../src/console-session";
import { axeProblems, joinNode } from "../src/session";

describe("SRv6 page (production build, real PostgreSQL, Debian Chromium)", () => {
  let session: ConsoleSession;
  let app: RunningConsole;
  let ctx: BrowserContext;
  let peSid = "";
  let quietSid = "";

  beforeAll(async () => {
    session = await openConsole();
    ({ app, ctx } = session);
    const { admin } = session;
    // The seed's VRF blue (pool "default") serves pods labelled vpn=blue.
    await admin.srv6.policies.create.mutate({
      name: "to-site-b",
      spec: { vrf: "blue", destination: "192.168.50.0/24", segments: ["fc00:0:2:e004::"] },
    });
    const pe = await joinNode(admin, app.url, { name: "pe-node", podCIDR: "10.71.1.0/24" });
    const quiet = await joinNode(admin, app.url, { name: "quiet-node", podCIDR: "10.71.2.0/24" });
    await pe.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "blue-1", labels: { vpn: "blue" }, ipv4: "10.71.1.10" }],
    });
    await quiet.agent.reportEndpoints.mutate({
      endpoints: [{ namespace: "shop", name: "blue-2", labels: { vpn: "blue" }, ipv4: "10.71.2.10" }],
    });
    // The SIDs the control plane allocated, as each agent's desired state carries them.
    const intent = await admin.srv6.overview.query();
    const blue = intent.vrfs.find((v) => v.name === "blue")!;
    peSid = blue.nodes.find((n) => n.node === "pe-node")!.sid;
    quietSid = blue.nodes.find((n) => n.node === "quiet-node")!.sid;
    const locator = intent.nodes.find((n) => n.name === "pe-node")!.locators[0]!;
    await pe.agent.reportStatus.mutate({
      components: [
        {
          component: "srv6",
          state: "ok",
          message: "1 VRF(s)",
          detail: {
            source: `${locator.split("/")[0]}1`,
            locators: [locator],
            sids: [{ sid: peSid, vrf: "blue", behavior: "End.DT46" }],
            vrfs: [{ name: "blue", vrfID: 100, members: 1, staticPolicies: 1, bgpPolicies: 0 }],
            policies: [
              {
                vrf: "blue",
                destination: "192.168.50.0/24",
                segments: ["fc00:0:2:e004::"],
                source: "static",
              },
            ],
            counters: {
              encapsulated: 1500,
              decapsulated: 1490,
              transit: 0,
              no_policy: 0,
              no_vrf_match: 7,
              bad_srh: 0,
            },
          },
        },
      ],
    });
  }, 600_000);

  afterAll(async () => {
    await session?.close();
  });

  it("shows the reported SID and drop counter beside the intent, and 'not reported' where no agent did", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${app.url}/srv6`);
      await page.getByRole("heading", { name: "SRv6 L3VPN" }).waitFor();

      const peVrf = page.locator('[data-testid="srv6-vrf-nodes"] tr[data-vrf="blue"][data-node="pe-node"]');
      const cells = await peVrf.locator("td").allTextContents();
      // VRF, node, allocated SID, the SID the agent reports, members intent / agent, policies.
      expect(cells.slice(0, 5)).toEqual(["blue", "pe-node", peSid, peSid, "1 / 1"]);
      const quietVrf = page.locator(
        '[data-testid="srv6-vrf-nodes"] tr[data-vrf="blue"][data-node="quiet-node"]',
      );
      expect((await quietVrf.locator("td").allTextContents()).slice(0, 4)).toEqual([
        "blue",
        "quiet-node",
        quietSid,
        "not reported",
      ]);
      expect(quietSid).not.toBe(peSid);

      const peNode = page.locator('[data-testid="srv6-nodes"] tr[data-node="pe-node"]');
      expect(await peNode.getByTestId("srv6-drops").textContent()).toBe("no vrf match: 7");
      expect(await peNode.textContent()).toMatch(/●\s*ok/);
      expect(await peNode.textContent()).toContain("1500");
      const quietNode = page.locator('[data-testid="srv6-nodes"] tr[data-node="quiet-node"]');
      expect(await quietNode.textContent()).toMatch(/◆\s*not reported/);
      expect(await quietNode.getByTestId("srv6-drops").textContent()).toBe("—");

      const datapath = await page.getByTestId("srv6-datapath-policies").textContent();
      expect(datapath).toContain("192.168.50.0/24");
      expect(datapath).toContain("static");
      const statics = page.getByRole("region", { name: /Static policies/ });
      expect(await statics.getByRole("row", { name: /to-site-b/ }).textContent()).toContain("pe-node");
      expect(await page.getByRole("link", { name: "New static policy" }).count()).toBe(1);

      expect(await axeProblems(page)).toEqual([]);
      await page.screenshot({ path: path.join(artifacts, "srv6-page.png"), fullPage: true });
    } finally {
      await page.close();
    }
  }, 60_000);
});
