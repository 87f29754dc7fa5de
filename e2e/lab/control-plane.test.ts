// The lab with a real control plane: each node's agent joins a real API (on a real
// PostgreSQL) with its own join token, follows its desired state and reports its pods,
// which get identities. Traffic keeps flowing. Needs root and PostgreSQL (`npm test`).
import { readFileSync } from "node:fs";
import { callAgent } from "@meridian/node-agent/agent/local-client";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLab, type Lab, teardownLab } from "./builder";
import { LAB_PARTS } from "./control-plane-harness";
import type { LabTopology } from "./topology";
import { startTcpServer, type TcpServer, tcpConnect } from "./traffic";

const realParts = needs("lab with a control plane", LAB_PARTS);
const prefix = `mrdlabc${process.pid}-`;
const topology: LabTopology = {
  nodes: [
    { name: "cp-n1", podCIDRs: ["10.244.11.0/24", "fd00:10:244:11::/64"] },
    { name: "cp-n2", podCIDRs: ["10.244.12.0/24", "fd00:10:244:12::/64"] },
  ],
  pods: [
    { node: "cp-n1", name: "web-1", namespace: "shop", labels: { app: "web" } },
    { node: "cp-n2", name: "db-1", namespace: "shop", labels: { app: "db" } },
  ],
};

type Harness = Awaited<ReturnType<typeof import("@meridian/api/testing")["createHarness"]>>;
type Server = Awaited<ReturnType<typeof import("@meridian/api/server")["startServer"]>>;
let h: Harness | undefined;
let api: Server | undefined;
let lab: Lab | undefined;
let server: TcpServer | undefined;

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(realParts.skip)("lab with a control plane", () => {
  beforeAll(async () => {
    const { createHarness } = await import("@meridian/api/testing");
    const { startServer } = await import("@meridian/api/server");
    h = await createHarness();
    api = await startServer({ db: h.db, changeFeed: h.feed });
    const admin = await h.as("admin");
    lab = await buildLab(topology, {
      prefix,
      controlPlane: {
        url: api.url,
        joinToken: async (node) => (await admin.joinTokens.create({ nodeName: node })).secret,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix);
    await api?.close();
    await h?.close();
  }, 60_000);

  it("every node joins and acknowledges its desired state", async () => {
    for (const n of topology.nodes) {
      const row = await until(`node ${n.name} applied a revision`, async () => {
        const r = await h!.db.node.findUnique({ where: { name: n.name } });
        return r?.appliedRevision ? r : undefined;
      });
      expect(row.joinState).toBe("joined");
      const status = JSON.parse(await lab!.agentCli(n.name, ["status", "--json"])) as {
        controlPlane: { mode: string; lastRevision?: number };
      };
      expect(status.controlPlane.mode).toBe("connected");
    }
  });

  it("pods added through CNI appear in the control plane with their labels and addresses", async () => {
    const web = lab!.pods.get("web-1")!;
    const ep = await until("web-1 registered", () =>
      h!.db.endpoint.findFirst({ where: { namespace: "shop", name: "web-1" } }),
    );
    expect(ep.ipv4).toBe(web.ipv4);
    expect(ep.labels).toEqual({ app: "web" });
    // …and come back in the node's desired state with an identity.
    const n1 = lab!.nodes.get("cp-n1")!;
    const policy = await until(
      "identity in desired state",
      async () => {
        const res = await callAgent(n1.socket, "GET", "/v1/endpoints/shop%2Fweb-1/policy");
        const p = res.body as { desired: { identity: number } | null };
        return p.desired?.identity ? p : undefined;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nagent log:\n${readFileSync(n1.logFile, "utf8").slice(-3000)}`);
    });
    expect(policy.desired!.identity).toBeGreaterThan(0);
    // People get the same as a summary.
    const text = await lab!.agentCli("cp-n1", ["policy", "web-1"]);
    expect(text).toContain(`identity  ${policy.desired!.identity}`);
    expect(text).toMatch(/^endpoint {2}shop\/web-1 {2}10\.244\.11\.\d+/m);
  });

  it("traffic flows between the nodes' pods", async () => {
    const db = lab!.pods.get("db-1")!;
    server = await startTcpServer(db.netns, 5432, "db-1");
    const r = await tcpConnect(lab!.pods.get("web-1")!.netns, db.ipv4!, 5432);
    expect(r).toEqual({ ok: true, reply: `db-1 ${lab!.pods.get("web-1")!.ipv4}` });
  });
});
