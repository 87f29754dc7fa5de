// The subsystem registry: what the daemon loops over. Each subsystem is its own component with a
// status its own schema accepts, the desired state's sections are all accounted for, and no two
// parts of the agent claim the same metric, route or command. No root needed: BGP runs without a
// listener or kernel routes, routing is not started (it would touch this namespace's routes).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { desiredState } from "@meridian/model/testing";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coreRoutes } from "../agent/local-api.js";
import { type AgentConfig, loadConfig } from "../config.js";
import { AgentMetrics } from "../status/metrics.js";
import type { NodeDesiredState } from "../sync/channel.js";
import type { AgentFeature, FeatureContext } from "./feature.js";
import { UnenforcedDatapath } from "./policy/index.js";
import { createFeatures, FEATURE_CLIS } from "./registry.js";

/** Sections no subsystem of this agent enforces yet (their features are being built). */
const NOT_ENFORCED_YET = ["identities", "problems"];
/** Read by the agent's core: the node's own PodCIDRs. */
const CORE_SECTIONS = ["node"];

let dir: string;
let config: AgentConfig;
let features: AgentFeature[];

function context(desired?: () => NodeDesiredState): FeatureContext {
  return {
    config,
    log: pino({ level: "silent" }),
    metrics: new AgentMetrics(),
    endpoint: () => undefined,
    desiredState: () => desired?.(),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mrdt-registry-"));
  config = await loadConfig({ flags: { nodeName: "n1", stateDir: dir, podCIDRs: ["10.244.1.0/24"] } });
  features = createFeatures(context(), { bgp: { listen: false, kernelRoutes: false } });
});

afterAll(async () => {
  for (const f of features) if (f.component !== "routing") await f.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the agent's subsystems", () => {
  it("are the policy datapath, egress gateway, DNS, BGP, SRv6 and routing, applied in that order, each its own component", () => {
    expect(features.map((f) => f.component)).toEqual(["datapath", "egress", "dns", "bgp", "srv6", "routing"]);
    // Egress refuses too: CNI ADD must not return before a selected pod's steering is written.
    expect(features.filter((f) => f.refusesStateOnFailure).map((f) => f.component)).toEqual([
      "datapath",
      "egress",
    ]);
  });

  it("consume every section of the desired state, or it is one no feature enforces yet", () => {
    const consumed = new Set<string>([...CORE_SECTIONS, ...features.flatMap((f) => f.sections)]);
    const sections = Object.keys(desiredState(1)).filter((k) => k !== "revision" && k !== "contentHash");
    const unaccounted = sections.filter((s) => !consumed.has(s) && !NOT_ENFORCED_YET.includes(s));
    expect(unaccounted).toEqual([]);
    for (const s of NOT_ENFORCED_YET) expect(consumed.has(s)).toBe(false);
  });

  it("report a status their own schema accepts, BGP with a configured peer", async () => {
    const bgp = features.find((f) => f.component === "bgp")!;
    await bgp.start();
    await bgp.apply(
      desiredState(1, {
        bgp: {
          instances: [
            {
              name: "fabric",
              localASN: 65001,
              routerID: "10.255.0.1",
              peers: [
                {
                  name: "tor",
                  address: "127.79.250.1",
                  peerASN: 65000,
                  port: 1790,
                  holdTimeSeconds: 90,
                  keepaliveSeconds: 30,
                  connectRetrySeconds: 120,
                  families: ["ipv4-unicast"],
                  hasPassword: false,
                  routes: [],
                },
              ],
            },
          ],
        },
      }),
      undefined,
    );
    for (const f of features) {
      const status = f.status();
      expect(status, f.component).toBeDefined();
      expect(() => f.statusSchema.parse(status), f.component).not.toThrow();
    }
    expect(features.find((f) => f.component === "datapath")!.status()).toMatchObject({
      state: "degraded",
      message: expect.stringMatching(/^unenforced/),
    });
    expect(bgp.status()).toMatchObject({ detail: { peers: { "127.79.250.1": { name: "tor" } } } });
  });

  it("bring metrics, routes and commands that no other part of the agent has", () => {
    const metrics = [
      ...(new AgentMetrics().registry.getMetricsAsArray().map((m) => m.name) as string[]),
      ...features.flatMap((f) => f.metrics.map((m) => (m as unknown as { name: string }).name)),
    ];
    expect(metrics.length).toBe(new Set(metrics).size);
    const core = coreRoutes({} as Parameters<typeof coreRoutes>[0]);
    const routes = [...core, ...features.flatMap((f) => f.routes)].map(
      (r) => `${r.method} ${String(r.path)}`,
    );
    expect(routes.length).toBe(new Set(routes).size);
    const commands = FEATURE_CLIS.flatMap((c) => c.commands.map((x) => x.name));
    expect(commands).toEqual(["policy", "flows", "egress", "dns", "bgp", "srv6"]);
  });
});

describe("the policy subsystem's status", () => {
  it("names the refused revision and why, and is healthy again once a state applies", async () => {
    let refuse = true;
    const datapath = new (class extends UnenforcedDatapath {
      override async applyDesiredState(): Promise<void> {
        if (refuse) throw new Error('endpoint shop/db-1: policy rule "x": port 70000 out of range');
      }
    })();
    const [policy] = createFeatures(context(), { datapath, bgp: false });
    await expect(policy!.apply(desiredState(7), undefined)).rejects.toThrow(/port 70000/);
    expect(policy!.status()).toEqual({
      component: "datapath",
      state: "error",
      message: 'revision 7: endpoint shop/db-1: policy rule "x": port 70000 out of range',
    });
    expect(policy!.lastError()).toBe(policy!.status()!.message);
    refuse = false;
    await policy!.apply(desiredState(8), undefined);
    expect(policy!.status()).toMatchObject({ state: "degraded" });
    expect(policy!.lastError()).toBeUndefined();
  });
});
