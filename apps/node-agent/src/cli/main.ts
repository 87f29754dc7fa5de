// meridian-agent: `run` starts the daemon; every other subcommand asks the running agent
// over its unix socket and prints a table (or --json). The core's commands are here (status,
// endpoints); each subsystem's come from the registry (features/*/cli.ts).
import { type ParseArgsConfig, parseArgs } from "node:util";
import { Agent } from "../agent/daemon.js";
import { AgentUnreachableError, callAgent, streamAgent } from "../agent/local-client.js";
import { type AgentStatusView, DEFAULT_AGENT_SOCKET, type EndpointView } from "../agent/protocol.js";
import { ConfigError, loadConfig } from "../config.js";
import { openPolicyDatapath } from "../features/policy/index.js";
import { FEATURE_CLIS } from "../features/registry.js";
import { ControlPlaneRejectedError } from "../sync/channel.js";
import { SyncLoop } from "../sync/loop.js";
import { type CliCall, type CliCommand, UsageError } from "./command.js";
import { table } from "./table.js";

const COMMON_OPTIONS = { socket: { type: "string" }, json: { type: "boolean" } } as const;

const CORE_COMMANDS: CliCommand[] = [
  {
    name: "status",
    usage: "  status              agent, datapath, control-plane and IPAM status",
    async run({ json, get, out }) {
      const s = (await get("/v1/status")) as AgentStatusView;
      if (json) {
        out(JSON.stringify(s, null, 2));
        return 0;
      }
      out(
        table(
          ["FIELD", "VALUE"],
          [
            ["node", s.nodeName],
            ["podCIDRs", s.podCIDRs.join(", ")],
            ...FEATURE_CLIS.flatMap((f) => f.statusRows?.(s) ?? []),
            [
              "control plane",
              `${s.controlPlane.mode}${s.controlPlane.api ? ` (${s.controlPlane.api})` : ""}${
                s.controlPlane.lastRevision !== undefined ? ` revision ${s.controlPlane.lastRevision}` : ""
              }`,
            ],
            ...(s.controlPlane.rejected
              ? [
                  [
                    "refused state",
                    `revision ${s.controlPlane.rejected.revision} from ${s.controlPlane.rejected.source}: ${s.controlPlane.rejected.reason}`,
                  ],
                ]
              : []),
            ["endpoints", String(s.endpoints)],
            ...s.ipam.map((p) => [`ipam ${p.pool}`, `${p.used} used of ${p.usable}`]),
            ["uptime", `${s.uptimeSeconds}s`],
            ...(s.lastError ? [["last error", s.lastError]] : []),
          ],
        ),
      );
      return 0;
    },
  },
  {
    name: "stop",
    usage:
      "  stop                stop the agent for good: its DNS proxy process exits too (SIGTERM leaves it\n                      answering for the next agent, dns.proxyOrphanTimeoutMs)",
    async run({ post, out }) {
      await post("/v1/stop");
      out("stopping");
      return 0;
    },
  },
  {
    name: "endpoints",
    usage: "  endpoints           endpoints on this node",
    async run({ json, get, out }) {
      const eps = (await get("/v1/endpoints")) as EndpointView[];
      if (json) {
        out(JSON.stringify(eps, null, 2));
        return 0;
      }
      out(
        table(
          ["POD", "CONTAINER", "IFACE", "HOST IFACE", "ADDRESSES", "LABELS"],
          eps.map((e) => [
            e.podName ? `${e.namespace ?? "default"}/${e.podName}` : "-",
            e.containerId.slice(0, 12),
            e.ifname,
            e.hostIfname,
            e.addresses.join(","),
            Object.entries(e.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(",") || "-",
          ]),
        ),
      );
      return 0;
    },
  },
];

const COMMANDS: CliCommand[] = [...CORE_COMMANDS, ...FEATURE_CLIS.flatMap((f) => f.commands)];

const USAGE = `usage: meridian-agent <command> [options]

commands:
  run                 start the agent daemon
      --api URL             control plane (env MERIDIAN_API)
      --join-token T        one-time join token (env MERIDIAN_JOIN_TOKEN)
      --config FILE         JSON configuration file
      --node-name NAME      (env MERIDIAN_NODE_NAME; default: hostname)
      --pod-cidr CIDR       this node's PodCIDR; repeat for IPv4 and IPv6
      --state-dir DIR       (env MERIDIAN_STATE_DIR; default /var/lib/meridian)
      --socket PATH         local socket (default ${DEFAULT_AGENT_SOCKET})
      --http-address H:P    /healthz and /metrics (default 127.0.0.1:9962; "" disables)
      --datapath MODE       auto (default: eBPF when root + BTF + bpffs), ebpf, none
      --bpf-pin-dir DIR     pinned maps and links (default /sys/fs/bpf/meridian; one per node)
      --kubeconfig FILE     watch this node's pods, its Node and Namespaces (env MERIDIAN_KUBECONFIG;
                            in a cluster the service account is used without it)
      --cluster-name NAME   io.cilium.k8s.policy.cluster of endpoints (default "default")
${COMMANDS.map((c) => c.usage).join("\n")}

common options: --socket PATH (env MERIDIAN_AGENT_SOCKET), --json
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (command === "run") return await run(rest);
    return await query(command, rest);
  } catch (err) {
    if (
      err instanceof ConfigError ||
      err instanceof AgentUnreachableError ||
      err instanceof UsageError ||
      err instanceof ControlPlaneRejectedError
    ) {
      process.stderr.write(`meridian-agent ${command}: ${err.message}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    throw err;
  }
}

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    api: { type: "string" },
    "join-token": { type: "string" },
    config: { type: "string" },
    "node-name": { type: "string" },
    "pod-cidr": { type: "string", multiple: true },
    "state-dir": { type: "string" },
    socket: { type: "string" },
    "http-address": { type: "string" },
    "log-level": { type: "string" },
    "bpf-pin-dir": { type: "string" },
    datapath: { type: "string" },
    kubeconfig: { type: "string" },
    "cluster-name": { type: "string" },
  });
  const config = await loadConfig({
    file: values.config as string | undefined,
    env: process.env,
    flags: {
      api: values.api,
      joinToken: values["join-token"],
      nodeName: values["node-name"],
      podCIDRs: values["pod-cidr"],
      stateDir: values["state-dir"],
      socketPath: values.socket,
      httpAddress: values["http-address"],
      logLevel: values["log-level"],
      bpfPinDir: values["bpf-pin-dir"],
      datapath: values.datapath,
      kubeconfig: values.kubeconfig,
      clusterName: values["cluster-name"],
    },
  });
  const agent = new Agent(config, { datapath: openPolicyDatapath(config) });
  const sync = config.api ? new SyncLoop(agent) : undefined;
  if (sync) {
    // Enforce what we had before the control plane answers (it may be down).
    const last = await sync.init();
    if (last) await agent.applyDesiredState(last, last.revision);
    sync.start();
    if (config.podCIDRs.length === 0) {
      agent.log.info("no --pod-cidr: waiting for this node's PodCIDRs from the control plane");
      await agent.waitForDesiredState();
    }
  }
  await agent.start();
  const forGood = await new Promise<boolean>((resolve) => {
    const stop = (signal: string) => {
      agent.log.info({ signal }, "stopping (pods and datapath stay as they are)");
      resolve(false);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    void agent.stopRequested.then(() => {
      agent.log.info("stopping for good (meridian-agent stop): helper processes exit too");
      resolve(true);
    });
  });
  await sync?.stop();
  await agent.close({ forGood });
  return 0;
}

async function query(name: string, args: string[]): Promise<number> {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${USAGE}`);
  const { values, positionals } = parse(args, { ...COMMON_OPTIONS, ...command.options });
  const socket =
    (values.socket as string | undefined) ?? process.env.MERIDIAN_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET;
  const call: CliCall = {
    positionals,
    values,
    json: values.json === true,
    out: (s) => process.stdout.write(`${s}\n`),
    get: async (p) => {
      const res = await callAgent(socket, "GET", p, undefined, 10_000);
      if (res.status !== 200) {
        const msg = (res.body as { msg?: string })?.msg ?? `HTTP ${res.status}`;
        throw new ConfigError(msg);
      }
      return res.body;
    },
    stream: (p, onItem, signal) => streamAgent(socket, p, onItem, signal),
    post: async (p) => {
      const res = await callAgent(socket, "POST", p, {}, 10_000);
      if (res.status >= 300) {
        const msg = (res.body as { msg?: string })?.msg ?? `HTTP ${res.status}`;
        throw new ConfigError(msg);
      }
      return res.body;
    },
  };
  return command.run(call);
}
