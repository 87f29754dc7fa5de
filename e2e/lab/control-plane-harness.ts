// A real control plane for lab tests: the API server on the test PostgreSQL, an admin caller
// for setup, and an HTTP tRPC client with an operator API token (what automation uses).

import { callAgent } from "@meridian/node-agent/agent/local-client";
import { parts } from "@meridian/testing";
import type { Lab } from "./builder";

type Harness = Awaited<ReturnType<typeof import("@meridian/api/testing")["createHarness"]>>;
type Server = Awaited<ReturnType<typeof import("@meridian/api/server")["startServer"]>>;
export type ApiClient = ReturnType<typeof import("@meridian/api/client")["createMeridianClient"]>;

/** What a lab test with real agents and a real API needs (a missing one fails it on CI). */
export const LAB_PARTS = [parts.root, parts.nativeAddon, parts.database];
/** And with FRR as the lab's router. */
export const FRR_LAB_PARTS = [...LAB_PARTS, parts.frr];

export interface ControlPlane {
  h: Harness;
  api: Server;
  client: ApiClient;
  joinToken(node: string): Promise<string>;
  /** Stop the API server (an outage); the database stays. */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startControlPlane(): Promise<ControlPlane> {
  const { createHarness } = await import("@meridian/api/testing");
  const { startServer } = await import("@meridian/api/server");
  const { createMeridianClient } = await import("@meridian/api/client");
  const h = await createHarness();
  let api: Server | undefined = await startServer({ db: h.db, changeFeed: h.feed });
  const port = Number(new URL(api.url).port);
  const admin = await h.as("admin");
  const token = await admin.apiTokens.create({ name: `lab-${process.pid}`, role: "operator" });
  const cp: ControlPlane = {
    h,
    api,
    client: createMeridianClient({ url: api.url, token: token.secret }),
    joinToken: async (node) => (await admin.joinTokens.create({ nodeName: node })).secret,
    stop: async () => {
      await api?.close();
      api = undefined;
    },
    start: async () => {
      api = await startServer({ db: h.db, changeFeed: h.feed, port });
      cp.api = api;
    },
    close: async () => {
      await api?.close();
      await h.close();
    },
  };
  return cp;
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

export interface KernelPolicy {
  endpoint: { identity: number; ingressEnforced: boolean; egressEnforced: boolean } | null;
  attached: string[];
  entries: { direction: string; portLow: number; portHigh: number; verdict: string; ruleId: string }[];
}

/** What the node's kernel holds for a pod (read back from the maps by the agent). */
export async function kernelPolicy(lab: Lab, pod: string): Promise<KernelPolicy> {
  const p = lab.pods.get(pod);
  if (!p) throw new Error(`no pod ${pod}`);
  const res = await callAgent(
    lab.nodes.get(p.node)!.socket,
    "GET",
    `/v1/endpoints/${pod}/policy`,
    undefined,
    10_000,
  );
  return (res.body as { datapath: KernelPolicy }).datapath;
}

/** Drop counters of a node: `${reason}/${direction}` → packets, from its /metrics. */
export async function dropCounters(lab: Lab, node: string): Promise<Map<string, number>> {
  const res = await callAgent(lab.nodes.get(node)!.socket, "GET", "/metrics", undefined, 10_000);
  const out = new Map<string, number>();
  for (const m of String(res.body).matchAll(
    /^meridian_datapath_drops_total\{reason="([^"]+)",direction="([^"]+)"\} (\d+)/gm,
  )) {
    out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  return out;
}

export interface LabFlow {
  src: string;
  dst: string;
  proto: string;
  dport?: number;
  verdict: "forwarded" | "dropped";
  reason?: string;
  direction?: string;
  ruleId?: string;
}

/** The node's recent flow events (`meridian-agent flows` without --follow). */
export async function recentFlows(lab: Lab, node: string): Promise<LabFlow[]> {
  const res = await callAgent(lab.nodes.get(node)!.socket, "GET", "/v1/flows", undefined, 10_000);
  if (typeof res.body !== "string") return [res.body as LabFlow];
  return res.body
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LabFlow);
}
