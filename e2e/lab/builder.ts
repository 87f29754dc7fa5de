// Builds a lab from a LabTopology: a hub namespace holding the fabric bridge, one
// namespace per node running a real meridian-agent, pods added through meridian-cni as a
// runtime would, and optional router / DNS / external namespaces. Nothing is created in
// the caller's namespace: every link is created with both ends inside lab namespaces.
//
// Teardown is by name prefix: every namespace whose name starts with the prefix has its
// processes killed and is deleted. That also removes a lab whose builder crashed.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AGENT_BIN, invokeCni } from "@meridian/node-agent/cni/invoke";
import { FABRIC, type LabPod, type LabTopology, nodeHost, validateTopology } from "./topology";

export const DEFAULT_PREFIX = "mrdlab-";
/** An agent's start (tsx transpiling, eBPF load) can take long on a loaded shared machine. */
const AGENT_START_MS = 90_000;
/** Where a node's agent finds the control plane when the lab has one (see BuildOptions). */
export const NODE_API_PORT = 18080;

type Endpoint = { unix: string } | { host: string; port: number };

const RELAY = `
const net = require("node:net");
const [from, to] = process.argv.slice(1).map((a) => JSON.parse(a));
const s = net.createServer((c) => {
  const u = to.unix ? net.connect(to.unix) : net.connect(to.port, to.host);
  c.pipe(u).pipe(c);
  u.on("error", () => c.destroy());
  c.on("error", () => u.destroy());
});
s.listen(from.unix ? from.unix : { port: from.port, host: from.host }, () => console.log("ready"));
`;

/** A detached TCP/unix relay (in `netns`, or the caller's namespace); returns its pid. */
async function startRelay(netns: string | undefined, from: Endpoint, to: Endpoint): Promise<number> {
  const argv = [process.execPath, "-e", RELAY, JSON.stringify(from), JSON.stringify(to)];
  const child = spawn(netns ? "ip" : argv[0]!, netns ? ["netns", "exec", netns, ...argv] : argv.slice(1), {
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("relay did not start")), 10_000);
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => reject(new Error(`relay exited with ${code}`)));
  });
  child.stdout?.destroy();
  child.unref();
  return child.pid!;
}

export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export async function labNamespaces(prefix: string): Promise<string[]> {
  const out = await run("ip", ["netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

export const BPF_FS = "/sys/fs/bpf";

/** A node's eBPF pin directory: per node, since the lab's agents share one kernel. */
export function labPinDir(prefix: string, node: string): string {
  return path.join(BPF_FS, `${prefix}${node}`);
}

export function labPinDirs(prefix: string): string[] {
  if (!existsSync(BPF_FS)) return [];
  return readdirSync(BPF_FS)
    .filter((f) => f.startsWith(prefix))
    .map((f) => path.join(BPF_FS, f));
}

export function labDir(prefix: string): string {
  return path.join(tmpdir(), prefix.replace(/-+$/, ""));
}

export interface PodInfo extends LabPod {
  netns: string;
  netnsPath: string;
  ipv4?: string;
  ipv6?: string;
}

export interface NodeInfo {
  name: string;
  netns: string;
  ipv4: string;
  ipv6: string;
  podCIDRs: string[];
  socket: string;
  stateDir: string;
  logFile: string;
}

export interface Lab {
  prefix: string;
  dir: string;
  hub: string;
  nodes: Map<string, NodeInfo>;
  pods: Map<string, PodInfo>;
  /** Namespace names of the optional members, by role. */
  router?: { netns: string; ipv4: string; ipv6: string };
  dns?: { netns: string; ipv4: string; ipv6: string };
  externals: Map<string, { netns: string; ipv4: string; ipv6: string }>;
  addPod(pod: LabPod): Promise<PodInfo>;
  removePod(name: string): Promise<void>;
  /** Runs a command inside a lab namespace (full name). */
  exec(netns: string, argv: string[]): Promise<string>;
  /** Stops a node's agent (SIGKILL by default) and starts it again; resolves once it serves. */
  /**
   * Stops the node's agent with `signal` (unless it exited already) and starts it again; `env`
   * is added to the new agent's environment (e.g. MERIDIAN_AGENT_BUILD: another build, an upgrade).
   */
  restartAgent(node: string, signal?: NodeJS.Signals, opts?: { env?: Record<string, string> }): Promise<void>;
  /** Stops a node's agent (SIGKILL by default) and leaves it stopped; resolves once it exited. */
  stopAgent(node: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped node's agent again (`env` as for restartAgent); resolves once it serves. */
  startAgent(node: string, opts?: { env?: Record<string, string> }): Promise<void>;
  /** meridian-agent CLI inside a node, e.g. agentCli("node1", ["endpoints", "--json"]). */
  agentCli(node: string, args: string[]): Promise<string>;
  teardown(): Promise<void>;
}

export class LabAlreadyUpError extends Error {
  constructor(prefix: string, namespaces: string[]) {
    const how = prefix === DEFAULT_PREFIX ? "npm run lab -- down" : `npm run lab -- down --prefix ${prefix}`;
    super(
      `a lab with prefix "${prefix}" is still up (${namespaces.length} namespaces: ${namespaces.slice(0, 4).join(", ")}${
        namespaces.length > 4 ? ", …" : ""
      }); remove it with: ${how}`,
    );
    this.name = "LabAlreadyUpError";
  }
}

export interface BuildOptions {
  prefix?: string;
  /** Detach agents so they outlive this process (`lab up`); tests keep them attached. */
  detachAgents?: boolean;
  /**
   * Connect the agents to a real control plane. Node namespaces cannot reach the host's
   * loopback, so the API is relayed over a unix socket (a file, not a network path): a
   * relay in the host's namespace forwards the socket to the API, and one in each node
   * forwards 127.0.0.1:18080 to the socket. The host's network is left untouched.
   */
  controlPlane?: { url: string; joinToken: (node: string) => Promise<string> };
  /**
   * With a control plane: leave `peers` out of the agents' configuration, so routes between
   * nodes come only from the desired state (the compiler's `peers`).
   */
  routesFromControlPlane?: boolean;
  log?: (line: string) => void;
}

export async function buildLab(topology: LabTopology, opts: BuildOptions = {}): Promise<Lab> {
  validateTopology(topology);
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  if (!prefix.startsWith("mrdlab")) throw new Error(`lab prefix "${prefix}" must start with "mrdlab"`);
  const existing = await labNamespaces(prefix);
  if (existing.length) throw new LabAlreadyUpError(prefix, existing);
  // No namespace is left, so pins under this prefix belong to no running lab: start clean.
  for (const d of labPinDirs(prefix)) rmSync(d, { recursive: true, force: true });
  const log = opts.log ?? (() => {});
  const dir = labDir(prefix);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const agents = new Map<string, ChildProcess>();
  const lab: Lab = {
    prefix,
    dir,
    hub: `${prefix}hub`,
    nodes: new Map(),
    pods: new Map(),
    externals: new Map(),
    addPod: (pod) => addPod(lab, pod),
    removePod: (name) => removePod(lab, name),
    exec: (netns, argv) => run("ip", ["netns", "exec", netns, ...argv]),
    restartAgent: async (node, sig = "SIGKILL", restartOpts = {}) => {
      await lab.stopAgent(node, sig);
      await lab.startAgent(node, restartOpts);
    },
    stopAgent: async (node, sig = "SIGKILL") => {
      const child = agents.get(node);
      if (!lab.nodes.has(node) || !child) throw new Error(`no agent for node ${node}`);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill(sig);
        await exited;
      }
    },
    startAgent: async (node, startOpts = {}) => {
      const n = lab.nodes.get(node);
      const child = agents.get(node);
      if (!n || !child) throw new Error(`no agent for node ${node}`);
      if (child.exitCode === null && child.signalCode === null)
        throw new Error(`the agent of ${node} is running`);
      const from = statSync(n.logFile).size;
      agents.set(node, spawnAgent(n, opts.detachAgents === true, startOpts.env));
      await waitForAgent(n, AGENT_START_MS, from);
    },
    agentCli: (node, args) => {
      const n = lab.nodes.get(node);
      if (!n) throw new Error(`no node ${node}`);
      return run("ip", [
        "netns",
        "exec",
        n.netns,
        process.execPath,
        AGENT_BIN,
        ...args,
        "--socket",
        n.socket,
      ]);
    },
    teardown: async () => {
      await teardownLab(prefix);
      for (const a of agents.values()) if (a.exitCode === null) a.kill("SIGKILL");
    },
  };

  try {
    log(`fabric: ${lab.hub} with bridge br0`);
    await addNetns(lab.hub);
    await run("ip", ["-n", lab.hub, "link", "add", "br0", "type", "bridge"]);
    await run("ip", ["-n", lab.hub, "link", "set", "br0", "up"]);
    let port = 0;
    const attach = async (netns: string, host: number) => {
      await addNetns(netns);
      const hubSide = `p${port++}`;
      await run("ip", [
        "-n",
        lab.hub,
        "link",
        "add",
        hubSide,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        netns,
      ]);
      await run("ip", ["-n", lab.hub, "link", "set", hubSide, "master", "br0", "up"]);
      await run(
        "ip",
        ["-n", netns, "-batch", "-"],
        [
          `addr add ${FABRIC.v4(host)}/24 dev eth0`,
          `addr add ${FABRIC.v6(host)}/64 dev eth0 nodad`,
          "link set eth0 up",
        ].join("\n"),
      );
      return { netns, ipv4: FABRIC.v4(host), ipv6: FABRIC.v6(host) };
    };

    const podRoutes = topology.nodes.flatMap((n) =>
      n.podCIDRs.map(
        (c) =>
          `route replace ${c} via ${c.includes(":") ? FABRIC.v6(nodeHost(topology, n.name)) : FABRIC.v4(nodeHost(topology, n.name))}`,
      ),
    );
    if (topology.router) {
      lab.router = await attach(`${prefix}router`, FABRIC.routerHost);
      await run("ip", [
        "netns",
        "exec",
        lab.router.netns,
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
      ]);
      // The router knows where PodCIDRs live, as it will once BGP advertises them.
      await run("ip", ["-n", lab.router.netns, "-batch", "-"], podRoutes.join("\n"));
    }
    if (topology.dnsServer) {
      lab.dns = await attach(`${prefix}dns`, FABRIC.dnsHost);
      // Pods may ask the server themselves (no DNS policy), so its answers must route back to them.
      await run("ip", ["-n", lab.dns.netns, "-batch", "-"], podRoutes.join("\n"));
    }
    for (const [i, name] of (topology.externals ?? []).entries()) {
      const ext = await attach(`${prefix}${name}`, FABRIC.externalHost(i));
      lab.externals.set(name, ext);
      // Replies to pods go straight to the pod's node (shared L2), so source addresses are pods'.
      await run("ip", ["-n", ext.netns, "-batch", "-"], podRoutes.join("\n"));
    }

    const apiSocket = path.join(dir, "api.sock");
    if (opts.controlPlane) {
      const api = new URL(opts.controlPlane.url);
      const relay = await startRelay(
        undefined,
        { unix: apiSocket },
        { host: api.hostname, port: Number(api.port || 80) },
      );
      writeFileSync(path.join(dir, "relay.pid"), String(relay));
    }

    for (const n of topology.nodes) {
      const host = nodeHost(topology, n.name);
      const m = await attach(`${prefix}${n.name}`, host);
      const nodeDir = path.join(dir, n.name);
      mkdirSync(nodeDir, { recursive: true });
      const info: NodeInfo = {
        name: n.name,
        netns: m.netns,
        ipv4: m.ipv4,
        ipv6: m.ipv6,
        podCIDRs: n.podCIDRs,
        socket: path.join(nodeDir, "agent.sock"),
        stateDir: path.join(nodeDir, "state"),
        logFile: path.join(nodeDir, "agent.log"),
      };
      lab.nodes.set(n.name, info);
      if (lab.router) {
        await run(
          "ip",
          ["-n", m.netns, "-batch", "-"],
          [`route add default via ${lab.router.ipv4}`, `route add default via ${lab.router.ipv6}`].join("\n"),
        );
      }
      // Peers from the lab description; with a control plane they may come from the desired state only.
      const config = {
        nodeName: n.name,
        podCIDRs: n.podCIDRs,
        nodeAddresses: [m.ipv4, m.ipv6],
        stateDir: info.stateDir,
        socketPath: info.socket,
        httpAddress: "127.0.0.1:9962",
        // Lab nodes share one kernel: each needs its own pinned maps and links.
        bpfPinDir: labPinDir(prefix, n.name),
        flowReportIntervalMs: 2_000,
        ...(opts.controlPlane
          ? { api: `http://127.0.0.1:${NODE_API_PORT}`, joinToken: await opts.controlPlane.joinToken(n.name) }
          : {}),
        peers: topology.nodes
          .filter((p) => p.name !== n.name && !(opts.controlPlane && opts.routesFromControlPlane))
          .map((p) => ({
            name: p.name,
            addresses: [FABRIC.v4(nodeHost(topology, p.name)), FABRIC.v6(nodeHost(topology, p.name))],
            podCIDRs: p.podCIDRs,
          })),
      };
      const configFile = path.join(nodeDir, "config.json");
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      log(`node ${n.name}: ${m.netns} ${m.ipv4} ${m.ipv6}, agent log ${info.logFile}`);
      if (opts.controlPlane)
        await startRelay(m.netns, { host: "127.0.0.1", port: NODE_API_PORT }, { unix: apiSocket });
      agents.set(n.name, spawnAgent(info, opts.detachAgents === true));
    }
    await Promise.all([...lab.nodes.values()].map((n) => waitForAgent(n)));
    await Promise.all(topology.pods.map((p) => lab.addPod(p)));
    // Keep the description's order (pods were added concurrently).
    const added = new Map(lab.pods);
    lab.pods.clear();
    for (const p of topology.pods) lab.pods.set(p.name, added.get(p.name)!);
    writeFileSync(path.join(dir, "lab.json"), JSON.stringify(describe(lab), null, 2));
    return lab;
  } catch (err) {
    log(`build failed, tearing down: ${(err as Error).message}`);
    await lab.teardown().catch(() => undefined);
    throw err;
  }
}

async function addNetns(name: string): Promise<void> {
  await run("ip", ["netns", "add", name]);
  await run("ip", ["-n", name, "link", "set", "lo", "up"]);
}

function spawnAgent(n: NodeInfo, detached: boolean, env?: Record<string, string>): ChildProcess {
  const out = openSync(n.logFile, "a");
  // nsenter, not `ip netns exec`: that also remounts /sys, hiding the host's bpffs, and the
  // agent's pins must live on it to outlive the agent (restart adoption).
  const child = spawn(
    "nsenter",
    [
      `--net=/run/netns/${n.netns}`,
      "--",
      process.execPath,
      AGENT_BIN,
      "run",
      "--config",
      path.join(path.dirname(n.logFile), "config.json"),
    ],
    { stdio: ["ignore", out, out], detached, ...(env ? { env: { ...process.env, ...env } } : {}) },
  );
  closeSync(out);
  if (detached) child.unref();
  return child;
}

/** Waits for "agent started" in the log written after byte `from`. */
async function waitForAgent(n: NodeInfo, timeoutMs = AGENT_START_MS, from = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const logs = existsSync(n.logFile) ? readFileSync(n.logFile).subarray(from).toString("utf8") : "";
    if (logs.includes('"msg":"agent started"')) return;
    if (/"level":(50|60)|Error/.test(logs) && !logs.includes("agent started")) {
      throw new Error(`the agent on ${n.name} failed to start: ${agentLogReason(logs)} (log: ${n.logFile})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the agent on ${n.name} did not start within ${timeoutMs / 1000} s (log: ${n.logFile})`);
}

/** The agent's own words for why it stopped: the last error's message in its JSON log, or the last line. */
function agentLogReason(logs: string): string {
  const latestFirst = logs.trim().split("\n").reverse();
  for (const line of latestFirst) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) >= 50) return [entry.msg, entry.err?.message].filter(Boolean).join(": ");
    } catch {}
  }
  return (latestFirst.find((l) => /Error/.test(l)) ?? latestFirst[0] ?? "").trim();
}

async function addPod(lab: Lab, pod: LabPod): Promise<PodInfo> {
  const node = lab.nodes.get(pod.node);
  if (!node) throw new Error(`pod ${pod.name}: no node ${pod.node} in the lab`);
  if (lab.pods.has(pod.name)) throw new Error(`pod ${pod.name} already exists`);
  const netns = `${lab.prefix}${pod.node}-${pod.name}`;
  await addNetns(netns);
  const labels = Object.entries(pod.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const args = [
    `K8S_POD_NAMESPACE=${pod.namespace ?? "default"}`,
    `K8S_POD_NAME=${pod.name}`,
    ...(labels ? [`MERIDIAN_LABELS=${labels}`] : []),
  ];
  const r = await invokeCni({
    command: "ADD",
    nodeNetns: node.netns,
    containerId: `lab-${pod.name}`,
    netns: `/var/run/netns/${netns}`,
    ifname: "eth0",
    args: args.join(";"),
    config: { cniVersion: "1.0.0", name: "meridian", type: "meridian-cni", agentSocket: node.socket },
  });
  if (r.exitCode !== 0) throw new Error(`CNI ADD for pod ${pod.name} failed: ${r.stdout}${r.stderr}`);
  const ips = ((r.json?.ips ?? []) as { address: string }[]).map((i) => i.address.split("/")[0]!);
  const info: PodInfo = {
    ...pod,
    netns,
    netnsPath: `/var/run/netns/${netns}`,
    ipv4: ips.find((a) => !a.includes(":")),
    ipv6: ips.find((a) => a.includes(":")),
  };
  lab.pods.set(pod.name, info);
  return info;
}

async function removePod(lab: Lab, name: string): Promise<void> {
  const pod = lab.pods.get(name);
  if (!pod) return;
  const node = lab.nodes.get(pod.node)!;
  const r = await invokeCni({
    command: "DEL",
    nodeNetns: node.netns,
    containerId: `lab-${pod.name}`,
    netns: pod.netnsPath,
    ifname: "eth0",
    config: { cniVersion: "1.0.0", name: "meridian", type: "meridian-cni", agentSocket: node.socket },
  });
  if (r.exitCode !== 0) throw new Error(`CNI DEL for pod ${name} failed: ${r.stdout}${r.stderr}`);
  await run("ip", ["netns", "del", pod.netns]);
  lab.pods.delete(name);
}

/** Kills every process in the prefix's namespaces and deletes them; returns what was removed. */
export async function teardownLab(prefix: string): Promise<string[]> {
  if (!prefix.startsWith("mrdlab"))
    throw new Error(`refusing to tear down prefix "${prefix}": not a lab prefix`);
  const namespaces = await labNamespaces(prefix);
  // The control-plane relay lives in the caller's namespace; its pid is on file.
  const pidFile = path.join(labDir(prefix), "relay.pid");
  const relayPid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0;
  // Rounds until the namespaces are empty: a process can start another while it is being
  // stopped (an agent's DNS-proxy supervisor starts a new proxy when its proxy dies first), and
  // one left in a namespace that is then deleted would run on, unnamed.
  for (let round = 0; round < 5; round++) {
    const pids = new Set<number>();
    for (const ns of namespaces) {
      const out = await run("ip", ["netns", "pids", ns]).catch(() => "");
      for (const p of out.split(/\s+/).filter(Boolean)) pids.add(Number(p));
    }
    // Only if that pid is still our relay: a stale file must not kill an unrelated process.
    if (round === 0 && relayPid > 0 && readCmdline(relayPid).includes("net.createServer")) pids.add(relayPid);
    if (pids.size === 0) break;
    for (const pid of pids) signal(pid, "SIGTERM");
    const deadline = Date.now() + 3_000;
    while ([...pids].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of pids) if (alive(pid)) signal(pid, "SIGKILL");
  }
  // Pods first, so no veth is left half-way; order does not matter for correctness.
  for (const ns of namespaces.sort((a, b) => b.length - a.length)) {
    await run("ip", ["netns", "del", ns]).catch(() => undefined);
  }
  rmSync(labDir(prefix), { recursive: true, force: true });
  // Pinned maps and links of the lab's agents (links detach when their last pin goes).
  for (const d of labPinDirs(prefix)) rmSync(d, { recursive: true, force: true });
  return namespaces;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function describe(lab: Lab) {
  return {
    prefix: lab.prefix,
    hub: lab.hub,
    nodes: [...lab.nodes.values()],
    pods: [...lab.pods.values()],
    router: lab.router,
    dns: lab.dns,
    externals: Object.fromEntries(lab.externals),
  };
}
