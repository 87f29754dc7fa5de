// CNI ADD with a control plane that never answers: ADD waits for the endpoint's identity and
// policy, then fails with code 11 and rolls the endpoint back. Needs root.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callAgent } from "../agent/local-client.js";
import type { AgentStatusView, EndpointView } from "../agent/protocol.js";
import { type AgentProcess, Scratch, sh } from "../testing/netns.js";
import { invokeCni } from "./invoke.js";

const scratch = new Scratch("adm");
let node: { name: string; path: string };
let agent: AgentProcess;
let silentApi: ChildProcess | undefined;
const TIMEOUT_MS = 1_500;

beforeAll(async () => {
  node = scratch.netns("node");
  // An "API" in the node's namespace that accepts connections and never answers.
  silentApi = spawn(
    "ip",
    [
      "netns",
      "exec",
      node.name,
      process.execPath,
      "-e",
      "require('node:net').createServer(() => {}).listen(7781, '127.0.0.1')",
    ],
    { stdio: "ignore" },
  );
  const api = "http://127.0.0.1:7781";
  // A stored credential, so the agent starts without joining (the join would never return).
  const stateDir = path.join(scratch.dir, "state");
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(
    path.join(stateDir, "credential.json"),
    JSON.stringify({ api, nodeName: "n1", credential: "c", joinedAt: new Date().toISOString() }),
    { mode: 0o600 },
  );
  const configFile = path.join(scratch.dir, "config.json");
  writeFileSync(configFile, JSON.stringify({ api, endpointPolicyTimeoutMs: TIMEOUT_MS }));
  agent = await scratch.startAgent(node.name, [
    "--config",
    configFile,
    "--node-name",
    "n1",
    "--pod-cidr",
    "10.244.9.0/24",
    "--http-address",
    "",
    "--datapath",
    "none",
  ]);
});

afterAll(async () => {
  silentApi?.kill("SIGKILL");
  await scratch.cleanup();
});

describe("CNI ADD with a control plane", () => {
  it("fails with code 11 when the API never assigns an identity, and rolls the endpoint back", async () => {
    const pod = scratch.netns("pod");
    const started = Date.now();
    const add = await invokeCni({
      nodeNetns: node.name,
      config: { cniVersion: "1.0.0", name: "meridian", type: "meridian-cni", agentSocket: agent.socket },
      ifname: "eth0",
      command: "ADD",
      containerId: "ctr-adm",
      netns: pod.path,
      args: "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=db-9;MERIDIAN_LABELS=app=db",
    });
    const took = Date.now() - started;
    expect(add.exitCode, add.stdout + add.stderr).not.toBe(0);
    expect(add.json?.code).toBe(11);
    expect(add.json?.msg).toMatch(/control plane did not assign an identity to pod shop\/db-9 in time/);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS);
    // Rolled back: no endpoint, no interface, no address held.
    const eps = (await callAgent(agent.socket, "GET", "/v1/endpoints")).body as EndpointView[];
    expect(eps).toEqual([]);
    expect(sh("ip", ["-n", pod.name, "-o", "link"])).not.toContain("eth0");
    const status = (await callAgent(agent.socket, "GET", "/v1/status")).body as AgentStatusView;
    expect(status.ipam[0]?.used).toBe(0);
  }, 30_000);
});
