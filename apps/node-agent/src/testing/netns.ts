// Test support: real network namespaces, veth pairs and a real agent process inside one. Everything a
// test creates is tracked here so afterAll can remove it even when the test failed.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AGENT_BIN } from "../cni/invoke.js";
import { waitFor } from "./wait.js";

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function listNetns(prefix: string): string[] {
  return sh("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

export interface AgentProcess {
  child: ChildProcess;
  socket: string;
  stateDir: string;
  logs: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** A scratch world for one test file: a name prefix, netns and a temp dir, all removed by cleanup(). */
export class Scratch {
  readonly prefix: string;
  readonly dir: string;
  private readonly agents: AgentProcess[] = [];

  constructor(tag: string) {
    this.prefix = `mrdt${tag}${process.pid}-`;
    this.dir = mkdtempSync(path.join(tmpdir(), this.prefix));
  }

  netns(name: string): { name: string; path: string } {
    const full = `${this.prefix}${name}`;
    sh("ip", ["netns", "add", full]);
    sh("ip", ["-n", full, "link", "set", "lo", "up"]);
    return { name: full, path: `/var/run/netns/${full}` };
  }

  /**
   * A veth pair with both ends in `ns`, both up: the host side of a pod, or an uplink whose far
   * end nobody answers on. `addresses` (CIDRs) go on `name`, IPv6 without duplicate detection.
   */
  veth(ns: { name: string }, name: string, peer: string, addresses: string[] = []): void {
    sh("ip", ["-n", ns.name, "link", "add", name, "type", "veth", "peer", "name", peer]);
    for (const a of addresses)
      sh("ip", ["-n", ns.name, "addr", "add", a, "dev", name, ...(a.includes(":") ? ["nodad"] : [])]);
    sh("ip", ["-n", ns.name, "link", "set", name, "up"]);
    sh("ip", ["-n", ns.name, "link", "set", peer, "up"]);
  }

  async startAgent(nodeNetns: string, args: string[], stateName = "state"): Promise<AgentProcess> {
    const stateDir = path.join(this.dir, stateName);
    const socket = path.join(this.dir, `${stateName}.sock`);
    let out = "";
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        nodeNetns,
        process.execPath,
        AGENT_BIN,
        "run",
        "--state-dir",
        stateDir,
        "--socket",
        socket,
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (c: Buffer) => {
      out += c;
    });
    child.stderr?.on("data", (c: Buffer) => {
      out += c;
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const agent: AgentProcess = {
      child,
      socket,
      stateDir,
      logs: () => out,
      stop: async (signal = "SIGTERM") => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
    this.agents.push(agent);
    try {
      await waitFor(
        `agent socket ${socket}`,
        () => {
          if (child.exitCode !== null) throw new Error("agent exited");
          return existsSync(socket) && out.includes("agent started");
        },
        // Generous: a cold start transpiles the agent, and CI machines are shared.
        30_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nagent output:\n${out}`);
    }
    return agent;
  }

  async cleanup(): Promise<void> {
    for (const a of this.agents) await a.stop("SIGKILL").catch(() => undefined);
    for (const ns of listNetns(this.prefix)) {
      try {
        sh("ip", ["netns", "del", ns]);
      } catch {
        // keep going: one stuck namespace must not leave the others behind
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
