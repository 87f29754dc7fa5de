// Proves the stand-in API server (server.ts: no real kube-apiserver can run on these machines)
// speaks the real protocol: Debian's own `kubectl` lists, applies and watches through it, with
// Kubernetes' own example Pod (examples/simple-pod.yaml).
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { filesPart, needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.js";
import { KubeApiServer } from "./server.js";

const run = promisify(execFile);
const realParts = needs("kubectl against the stand-in API server", [
  filesPart("kubectl", ["/usr/bin/kubectl"], "apt-get install kubernetes-client"),
]);
const example = path.join(import.meta.dirname, "examples", "simple-pod.yaml");

describe.skipIf(realParts.skip)("the stand-in API server, driven by the real kubectl", () => {
  const server = new KubeApiServer();
  let dir = "";
  let env: NodeJS.ProcessEnv = { ...process.env };
  const kubectl = async (...args: string[]) => (await run("kubectl", args, { env })).stdout;

  beforeAll(async () => {
    await server.start();
    dir = await mkdtemp(path.join(tmpdir(), "k8s-watch-kubectl-"));
    env = {
      ...process.env,
      KUBECONFIG: await server.writeKubeconfig(path.join(dir, "kubeconfig")),
      HOME: dir,
    };
    server.upsert("namespaces", { metadata: { name: "default" } });
  });
  afterAll(async () => {
    await server.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("kubectl apply creates Kubernetes' example pod, and a second apply patches its labels", async () => {
    // The stand-in serves no OpenAPI schema, so kubectl's client-side schema check is off.
    const created = await kubectl("apply", "--validate=false", "-f", example);
    expect(created.trim()).toBe("pod/nginx created");
    const pod = server.get("pods", "nginx", "default");
    expect(pod?.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"]).toContain(
      '"nginx:1.14.2"',
    );

    const listed = JSON.parse(await kubectl("get", "pods", "-o", "json"));
    expect(listed.kind).toBe("List");
    expect(listed.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(["nginx"]);
    expect(listed.items[0].spec.containers[0]).toMatchObject({
      name: "nginx",
      image: "nginx:1.14.2",
      ports: [{ containerPort: 80 }],
    });

    await kubectl("label", "pod", "nginx", "app=web");
    const relabelled = JSON.parse(await kubectl("get", "pod", "nginx", "-o", "json"));
    expect(relabelled.metadata.labels).toEqual({ app: "web" });

    // Unchanged manifest: kubectl finds nothing to patch.
    expect((await kubectl("apply", "--validate=false", "-f", example)).trim()).toBe("pod/nginx unchanged");
    expect(server.requests.some((r) => r.method === "PATCH")).toBe(true);
  });

  it("kubectl get selects by field and label selector", async () => {
    server.upsert("pods", {
      metadata: { name: "elsewhere", namespace: "default", labels: { app: "db" } },
      spec: { nodeName: "node-b", containers: [{ name: "db", image: "postgres:16" }] },
    });
    const names = async (...sel: string[]) =>
      JSON.parse(await kubectl("get", "pods", "-o", "json", ...sel)).items.map(
        (p: { metadata: { name: string } }) => p.metadata.name,
      );
    expect(await names("--field-selector", "spec.nodeName=node-b")).toEqual(["elsewhere"]);
    expect(await names("--field-selector", "metadata.name=nginx")).toEqual(["nginx"]);
    expect(await names("-l", "app in (web)")).toEqual(["nginx"]);
    await expect(kubectl("get", "pods", "--field-selector", "spec.bogus=1")).rejects.toThrow(
      /field label not supported: spec.bogus/,
    );
  });

  it("kubectl get pods --watch prints the pods there are, then each change as it happens", async () => {
    const child = spawn("kubectl", ["get", "pods", "--watch"], { env });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    try {
      await waitFor("the initial table", () => /NAME\s+READY\s+STATUS/.test(out) && /^nginx\s/m.test(out));
      server.upsert("pods", {
        metadata: { name: "late-arrival", namespace: "default" },
        spec: { nodeName: "node-a", containers: [{ name: "c", image: "busybox" }] },
        status: { phase: "Running" },
      });
      await waitFor("the new pod on the watch", () => /^late-arrival\s+0\/1\s+Running/m.test(out));
      server.remove("pods", "late-arrival", "default");
      // kubectl prints a deleted pod's row once more (its last state).
      await waitFor("the deletion", () => (out.match(/^late-arrival\s/gm) ?? []).length >= 2);
    } finally {
      child.kill();
    }
    expect(server.requests.some((r) => r.watch && r.path === "/api/v1/namespaces/default/pods")).toBe(true);
  });
});
