// The daemon with `kubeconfig` set labels the endpoints it loads from its pods, as served by the
// STAND-IN API server (src/testing/kube-apiserver/: no real one runs on these machines), and
// shows the watches in its status.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { needs, parts } from "@meridian/testing";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { Agent } from "../agent/daemon.js";
import { agentConfigSchema } from "../config.js";
import { UnenforcedDatapath } from "../features/policy/datapath.js";
import { KubeApiServer } from "../testing/kube-apiserver/server.js";
import { waitFor } from "../testing/wait.js";

const realParts = needs("the agent daemon with a kubeconfig", [parts.root]);

describe.skipIf(realParts.skip)("meridian-agent run --kubeconfig", () => {
  const server = new KubeApiServer();
  let dir = "";
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.close();
    await server.stop();
    try {
      execFileSync("ip", ["link", "del", "k8swd0"], { stdio: "ignore" });
    } catch {
      // never made (the test failed before), or already gone with its peer
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("labels a loaded endpoint from its pod and reports the watches in status", async () => {
    await server.start();
    // The endpoint's host-side veth: without it the agent collects the endpoint at start.
    execFileSync("ip", ["link", "add", "k8swd0", "type", "veth", "peer", "name", "k8swd0p"]);
    dir = await mkdtemp(path.join(tmpdir(), "k8s-watch-daemon-"));
    server.upsert("namespaces", { metadata: { name: "default" } });
    server.upsert("pods", {
      metadata: { name: "web-0", namespace: "default", labels: { app: "web" } },
      spec: { nodeName: "k8sw-daemon", containers: [{ name: "web", image: "nginx:1.14.2" }] },
    });
    await writeFile(
      path.join(dir, "endpoints.json"),
      JSON.stringify({
        version: 1,
        endpoints: [
          {
            id: "bbbbbb01/eth0",
            containerId: "bbbbbb01",
            ifname: "eth0",
            netns: "/var/run/netns/k8sw-daemon-web-0",
            hostIfname: "k8swd0",
            hostMac: "02:00:00:00:00:01",
            mac: "02:00:00:00:00:02",
            addresses: ["10.244.9.10"],
            namespace: "default",
            podName: "web-0",
            labels: {},
            createdAt: new Date().toISOString(),
          },
        ],
      }),
    );
    const config = agentConfigSchema.parse({
      nodeName: "k8sw-daemon",
      stateDir: dir,
      socketPath: path.join(dir, "agent.sock"),
      httpAddress: "",
      datapath: "none",
      podCIDRs: ["10.244.9.0/24"],
      kubeconfig: await server.writeKubeconfig(path.join(dir, "kubeconfig")),
      clusterName: "lab",
    });
    agent = new Agent(config, {
      datapath: new UnenforcedDatapath("test"),
      bgp: false,
      logger: pino({ level: "silent" }),
    });
    await agent.start();
    await waitFor("web-0 labelled", () => agent!.endpointList()[0]?.labels.app === "web");
    expect(agent.endpointList()[0]?.labels).toMatchObject({
      "io.kubernetes.pod.namespace": "default",
      "io.cilium.k8s.policy.cluster": "lab",
    });
    expect((agent.status() as unknown as { kubernetes: { pods: number } }).kubernetes.pods).toBe(1);
  });
});
