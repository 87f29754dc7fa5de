// The agent's Kubernetes watches against the STAND-IN API server (src/testing/kube-apiserver/: no
// real kube-apiserver runs on these machines; kubectl.test.ts there proves it speaks the protocol).
// The endpoints are the agent's real EndpointManager, loaded from an endpoints.json as a restarted
// agent loads it; what is asserted is what the agent reports: each endpoint's labels.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadYaml, type V1Pod } from "@kubernetes/client-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentEndpoint, EndpointManager } from "../agent/endpoints.js";
import { Ipam } from "../ipam/allocator.js";
import { AgentMetrics } from "../status/metrics.js";
import { KubeApiServer, type KubeObject } from "../testing/kube-apiserver/server.js";
import { waitFor } from "../testing/wait.js";
import { EndpointLabeller } from "./endpoint-labels.js";
import { KubernetesInventory, loadKubeConfig } from "./inventory.js";

const NODE = "k8sw-node-a";
const OTHER = "k8sw-node-b";
const examplePod = path.join(
  import.meta.dirname,
  "..",
  "testing",
  "kube-apiserver",
  "examples",
  "simple-pod.yaml",
);

/** Kubernetes' example pod (simple-pod.yaml), placed in `namespace` on `node` as the scheduler would. */
async function pod(name: string, namespace: string, node: string, labels: Record<string, string>) {
  const p = loadYaml<V1Pod>(await readFile(examplePod, "utf8"));
  return {
    ...p,
    metadata: { ...p.metadata, name, namespace, labels },
    spec: { ...p.spec!, nodeName: node, serviceAccountName: `${name}-sa` },
    status: { phase: "Running" },
  } as unknown as KubeObject;
}

function endpoint(containerId: string, namespace: string, podName: string, address: string): AgentEndpoint {
  return {
    id: `${containerId}/eth0`,
    containerId,
    ifname: "eth0",
    netns: `/var/run/netns/k8sw-${podName}`,
    hostIfname: `k8sw${containerId.slice(0, 6)}`,
    hostMac: "02:00:00:00:00:01",
    mac: "02:00:00:00:00:02",
    addresses: [address],
    namespace,
    podName,
    labels: { "meridian.io/cni": "yes" },
    createdAt: new Date().toISOString(),
  };
}

describe("the agent's Kubernetes watches (against the stand-in API server)", () => {
  const server = new KubeApiServer({ bookmarkIntervalMs: 200 });
  const log = pino({ level: "silent" });
  let dir = "";
  let endpoints: EndpointManager;
  let inventory: KubernetesInventory;
  const labelsOf = (podName: string) => endpoints.list().find((e) => e.podName === podName)?.labels;

  beforeAll(async () => {
    await server.start();
    dir = await mkdtemp(path.join(tmpdir(), "k8s-watch-agent-"));
    server.upsert("namespaces", { metadata: { name: "default" } });
    server.upsert("namespaces", { metadata: { name: "shop", labels: { team: "payments" } } });
    server.upsert("nodes", {
      metadata: { name: NODE, labels: { "topology.kubernetes.io/zone": "rack-1" } },
      spec: { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24"] },
      status: { addresses: [{ type: "InternalIP", address: "192.0.2.11" }] },
    });
    server.upsert("nodes", { metadata: { name: OTHER }, spec: { podCIDRs: ["10.244.2.0/24"] } });
    server.upsert("pods", await pod("nginx", "default", NODE, { app: "web" }));
    // The endpoints the CNI plugin made on this node, as a restarted agent finds them on disk.
    await writeFile(
      path.join(dir, "endpoints.json"),
      JSON.stringify({
        version: 1,
        endpoints: [
          endpoint("aaaaaa01", "default", "nginx", "10.244.1.10"),
          endpoint("aaaaaa02", "shop", "cart", "10.244.1.11"),
        ],
      }),
    );
    const ipam = await Ipam.open(["10.244.1.0/24"], dir);
    const noHooks = { onEndpointAdded: async () => undefined, onEndpointRemoved: async () => undefined };
    endpoints = new EndpointManager(ipam, noHooks, dir, log, new AgentMetrics());
    await endpoints.load();
    inventory = new KubernetesInventory({
      kubeConfig: loadKubeConfig(await server.writeKubeconfig(path.join(dir, "kubeconfig"))),
      nodeName: NODE,
      clusterName: "lab",
      log,
      backoff: { initialMs: 50, maxMs: 400 },
    });
    new EndpointLabeller(inventory, endpoints, log);
    await inventory.start();
  });
  afterAll(async () => {
    await inventory?.stop();
    await server.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("an existing pod's endpoint gets Cilium's labels: pod labels, namespace, service account, cluster", async () => {
    const labels = await waitFor("nginx's labels", () => labelsOf("nginx")?.app && labelsOf("nginx"));
    expect(labels).toEqual({
      "meridian.io/cni": "yes",
      app: "web",
      "io.kubernetes.pod.namespace": "default",
      "io.cilium.k8s.policy.serviceaccount": "nginx-sa",
      "io.cilium.k8s.policy.cluster": "lab",
      "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name": "default",
    });
    // Persisted: a restarted agent reports the same labels before the API server answers.
    // (The write follows the change in memory: wait for it rather than race it.)
    const onDiskApp = async () => {
      const onDisk = JSON.parse(await readFile(path.join(dir, "endpoints.json"), "utf8"));
      return onDisk.endpoints.find((e: AgentEndpoint) => e.podName === "nginx")?.labels.app as
        | string
        | undefined;
    };
    expect(await waitFor("nginx's labels on disk", async () => (await onDiskApp()) === "web" && "web")).toBe(
      "web",
    );
    expect(inventory.node()).toEqual({
      name: NODE,
      labels: { "topology.kubernetes.io/zone": "rack-1" },
      podCIDRs: ["10.244.1.0/24"],
      addresses: [{ type: "InternalIP", address: "192.0.2.11" }],
    });
  });

  it("a pod added, relabelled and deleted reaches its endpoint's labels; a namespace label too", async () => {
    server.upsert("pods", await pod("cart", "shop", NODE, { app: "cart", tier: "backend" }));
    await waitFor("cart labelled", () => labelsOf("cart")?.tier === "backend");
    expect(labelsOf("cart")?.["io.cilium.k8s.namespace.labels.team"]).toBe("payments");

    server.upsert("pods", await pod("cart", "shop", NODE, { app: "cart", tier: "frontend" }));
    await waitFor("cart relabelled", () => labelsOf("cart")?.tier === "frontend");

    server.upsert("namespaces", { metadata: { name: "shop", labels: { team: "checkout" } } });
    await waitFor(
      "namespace relabelled",
      () => labelsOf("cart")?.["io.cilium.k8s.namespace.labels.team"] === "checkout",
    );

    server.remove("pods", "cart", "shop");
    // The pod is gone from the API: its endpoint keeps only what its CNI request said.
    await waitFor("cart's Kubernetes labels gone", () => labelsOf("cart")?.app === undefined);
    expect(labelsOf("cart")).toEqual({ "meridian.io/cni": "yes" });
  });

  it("a node's PodCIDR change reaches the agent's view of its Node", async () => {
    const node = server.get("nodes", NODE)!;
    server.upsert("nodes", { ...node, spec: { podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"] } });
    await waitFor("the new PodCIDRs", () => inventory.node()?.podCIDRs.length === 2);
    expect(inventory.node()?.podCIDRs).toEqual(["10.244.1.0/24", "fd00:10:244:1::/64"]);
  });

  it("pods on another node are never delivered to this agent (the API server filters them)", async () => {
    const before = inventory.eventsReceived.pods;
    const sentBefore = server.eventsSent.pods;
    // Churn on the other node: 40 pods created, relabelled and deleted (120 changes).
    for (let i = 0; i < 40; i++)
      server.upsert("pods", await pod(`other-${i}`, "default", OTHER, { app: "x" }));
    for (let i = 0; i < 40; i++)
      server.upsert("pods", await pod(`other-${i}`, "default", OTHER, { app: "y" }));
    for (let i = 0; i < 40; i++) server.remove("pods", `other-${i}`, "default");
    // And one change on this node, to know when the churn has been through.
    server.upsert("pods", await pod("nginx", "default", NODE, { app: "web", rev: "2" }));
    await waitFor("nginx rev 2", () => labelsOf("nginx")?.rev === "2");
    expect(inventory.eventsReceived.pods - before).toBe(1);
    expect(server.eventsSent.pods - sentBefore).toBe(1);
    expect(inventory.podList().map((p) => p.spec?.nodeName)).toEqual([NODE]);
    // Every pod request this agent made carried its node's field selector.
    const podRequests = server.requests.filter((r) => r.path === "/api/v1/pods");
    expect(podRequests.length).toBeGreaterThan(0);
    expect(podRequests.every((r) => r.query.fieldSelector === `spec.nodeName=${NODE}`)).toBe(true);
  });

  it("a dropped watch resumes from its resourceVersion: no re-list, no event lost", async () => {
    const lists = { ...inventory.lists };
    const watchesBefore = server.requests.filter((r) => r.watch && r.path === "/api/v1/pods").length;
    server.dropWatches();
    // A change while the watch is down is delivered on the resumed watch.
    server.upsert("pods", await pod("nginx", "default", NODE, { app: "web", rev: "3" }));
    await waitFor("nginx rev 3", () => labelsOf("nginx")?.rev === "3");
    const resumed = server.requests.filter((r) => r.watch && r.path === "/api/v1/pods").slice(watchesBefore);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((r) => Number(r.query.resourceVersion) > 0)).toBe(true);
    expect(resumed[0]!.query.allowWatchBookmarks).toBe("true");
    expect(inventory.lists).toEqual(lists);
  });

  it("with the API server away the agent keeps its labels; back with a compacted history, 410 forces one re-list without duplicates", async () => {
    const port = server.port();
    const listsBefore = inventory.lists.pods;
    server.upsert("pods", await pod("cart", "shop", NODE, { app: "cart", tier: "backend" }));
    await waitFor("cart back", () => labelsOf("cart")?.tier === "backend");
    await server.stop();
    // Changes the agent cannot see while it is away.
    server.remove("pods", "nginx", "default");
    server.upsert("pods", await pod("cart", "shop", NODE, { app: "cart", tier: "db" }));
    await waitFor("the watch to notice", () => inventory.errors.pods);
    await new Promise((r) => setTimeout(r, 600)); // a few retries with backoff
    expect(labelsOf("nginx")?.rev).toBe("3");
    expect(labelsOf("cart")?.tier).toBe("backend");

    server.compact(); // the versions the agent would resume from are gone: 410 Gone
    await server.start(port);
    await waitFor(
      "the re-list's state",
      () => labelsOf("cart")?.tier === "db" && labelsOf("nginx")?.app === undefined,
    );
    expect(inventory.lists.pods - listsBefore).toBe(1);
    expect(inventory.podList().map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual([
      "shop/cart",
    ]);
    const ids = endpoints.list().map((e) => e.id);
    expect(ids).toEqual(["aaaaaa01/eth0", "aaaaaa02/eth0"]);
    expect(inventory.errors.pods).toBeUndefined();
  });
});
