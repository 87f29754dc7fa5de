// Invokes meridian-cni exactly as a container runtime does: a fresh process, CNI_*
// environment, network configuration on stdin, run inside the node's network namespace.
// Used by the lab and the tests; a runtime would do the same from Go.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CNI_BIN = fileURLToPath(new URL("../../bin/meridian-cni.mjs", import.meta.url));
export const AGENT_BIN = fileURLToPath(new URL("../../bin/meridian-agent.mjs", import.meta.url));

export interface CniInvocation {
  command: "ADD" | "DEL" | "CHECK" | "VERSION" | "STATUS" | "GC";
  /** Named network namespace of the node (`ip netns exec`); omitted: the caller's. */
  nodeNetns?: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  /** Object → JSON; string → sent as is (to test malformed input). */
  config: unknown;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface CniOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout as JSON, when it is JSON. */
  json?: Record<string, unknown> & { code?: number; msg?: string };
}

export function invokeCni(inv: CniInvocation): Promise<CniOutcome> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: inv.command,
  };
  if (inv.containerId !== undefined) env.CNI_CONTAINERID = inv.containerId;
  if (inv.netns !== undefined) env.CNI_NETNS = inv.netns;
  if (inv.ifname !== undefined) env.CNI_IFNAME = inv.ifname;
  if (inv.args !== undefined) env.CNI_ARGS = inv.args;
  env.CNI_PATH = inv.path ?? "/opt/cni/bin";
  Object.assign(env, inv.env);
  const argv = inv.nodeNetns
    ? ["ip", "netns", "exec", inv.nodeNetns, process.execPath, CNI_BIN]
    : [process.execPath, CNI_BIN];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: env as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c;
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), inv.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      let json: CniOutcome["json"];
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ exitCode: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(typeof inv.config === "string" ? inv.config : JSON.stringify(inv.config));
  });
}
