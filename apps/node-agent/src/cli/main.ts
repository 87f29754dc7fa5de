// meridian-agent: `run` starts the daemon; every other subcommand asks the running agent
// over its unix socket and prints a table (or --json).
import { type ParseArgsConfig, parseArgs } from "node:util";
import pino from "pino";
import { Agent } from "../agent/daemon.js";
import { AgentUnreachableError, callAgent, streamAgent } from "../agent/local-client.js";
import { type AgentStatusView, DEFAULT_AGENT_SOCKET, type EndpointView } from "../agent/protocol.js";
import { type AgentConfig, ConfigError, loadConfig } from "../config.js";
import { formatPeers, formatRoutes, type LookingGlassRoute } from "../features/bgp/index.js";
import type { BgpStatus } from "../features/bgp/status.js";
import { type Datapath, UnenforcedDatapath } from "../features/policy/datapath.js";
import { EbpfDatapath, ebpfUnsupportedReason } from "../features/policy/ebpf-datapath.js";
import { ControlPlaneRejectedError } from "../sync/channel.js";
import { SyncLoop } from "../sync/loop.js";
import { table } from "./table.js";

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
  status              agent, datapath, control-plane and IPAM status
  endpoints           endpoints on this node
  policy <endpoint>   policy held for an endpoint (container id, pod name, ns/name or IP)
  flows [--follow]    flow events from the datapath
  bgp peers           BGP sessions: state, uptime, prefixes, last error
  bgp routes received|advertised <peer> [family]
                      the looking glass for a peer (address or name); family e.g. ipv4-unicast

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

class UsageError extends Error {}

interface PolicyView {
  endpoint: EndpointView;
  desired: {
    identity: number;
    policies: string[];
    policyEnforced: { ingress: boolean; egress: boolean };
    entries: {
      direction: string;
      remoteIdentity: number;
      protocol: number;
      portLow: number;
      portHigh: number;
      verdict: string;
      ruleId: string;
    }[];
  } | null;
  datapath: unknown;
}

interface PolicyRow {
  direction: string;
  remoteIdentity: number;
  protocol: number;
  portLow: number;
  portHigh: number;
  verdict: string;
  ruleId: string;
}

interface KernelPolicyView {
  enforced: true;
  pinDir: string;
  attached: string[];
  endpoint: { epId: number; identity: number; ingressEnforced: boolean; egressEnforced: boolean } | null;
  entries: PolicyRow[];
}

const ports = (e: PolicyRow) =>
  e.portLow === 0 && e.portHigh === 65535
    ? "any"
    : e.portLow === e.portHigh
      ? String(e.portLow)
      : `${e.portLow}-${e.portHigh}`;

/**
 * The kernel's side of `policy`: entries read back from the maps (a port range appears as the
 * aligned blocks it was split into) and whether each desired entry is covered by them.
 */
function printKernelPolicy(dp: KernelPolicyView, desired: PolicyRow[], out: (s: string) => void): void {
  const k = dp.endpoint;
  out("");
  out(
    k
      ? `kernel    ep ${k.epId}, identity ${k.identity}, ingress ${k.ingressEnforced ? "enforced" : "open"}, egress ${k.egressEnforced ? "enforced" : "open"}; programs ${dp.attached.join(", ") || "NOT ATTACHED"} (${dp.pinDir})`
      : "kernel    endpoint NOT in the datapath maps",
  );
  const covered = (d: PolicyRow) =>
    dp.entries.some(
      (e) =>
        e.direction === d.direction &&
        e.remoteIdentity === d.remoteIdentity &&
        e.ruleId === d.ruleId &&
        e.portLow <= d.portHigh &&
        e.portHigh >= d.portLow,
    );
  const missing = desired.filter((d) => !covered(d));
  if (dp.entries.length) {
    out("");
    out(
      table(
        ["DIRECTION", "REMOTE IDENTITY", "PROTO", "PORTS", "VERDICT", "RULE", "DESIRED"],
        dp.entries.map((e) => [
          e.direction,
          e.remoteIdentity === 0 ? "any" : String(e.remoteIdentity),
          e.protocol === 0 ? "any" : String(e.protocol),
          ports(e),
          e.verdict,
          e.ruleId,
          desired.some((d) => d.ruleId === e.ruleId && d.direction === e.direction) ? "yes" : "NOT DESIRED",
        ]),
      ),
    );
  } else {
    out("          no policy entries in the kernel");
  }
  out(
    missing.length === 0
      ? "in sync  every desired entry is in the kernel"
      : `OUT OF SYNC  ${missing.length} desired entr${missing.length === 1 ? "y is" : "ies are"} missing from the kernel: ${missing.map((m) => `${m.direction} ${m.ruleId}`).join(", ")}`,
  );
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
    },
  });
  const agent = new Agent(config, { datapath: openDatapath(config) });
  const sync = config.api ? new SyncLoop(agent, { flowReportMs: config.flowReportIntervalMs }) : undefined;
  if (sync) {
    // BGP peers' MD5 keys come from the API, never in the desired state.
    agent.bgpPassword = (ref) => sync.bgpPassword(ref);
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
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      agent.log.info({ signal }, "stopping (pods and datapath stay as they are)");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await sync?.stop();
  await agent.close();
  return 0;
}

/** The eBPF datapath when the machine supports it; otherwise the unenforced stand-in, saying why. */
function openDatapath(config: AgentConfig): Datapath {
  if (config.datapath === "none") return new UnenforcedDatapath("datapath disabled by configuration");
  const reason = ebpfUnsupportedReason(config.bpfPinDir);
  if (!reason) {
    try {
      return EbpfDatapath.open({
        pinDir: config.bpfPinDir,
        log: pino({ level: config.logLevel, base: { node: config.nodeName, component: "datapath" } }),
      });
    } catch (err) {
      if (config.datapath === "ebpf") throw err;
      return new UnenforcedDatapath(
        `loading the eBPF datapath failed: ${(err as Error).message.split("\n")[0]}`,
      );
    }
  }
  if (config.datapath === "ebpf")
    throw new ConfigError(`datapath "ebpf" required but unavailable: ${reason}`);
  return new UnenforcedDatapath(reason);
}

async function query(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    socket: { type: "string" },
    json: { type: "boolean" },
    follow: { type: "boolean" },
  });
  const socket =
    (values.socket as string | undefined) ?? process.env.MERIDIAN_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET;
  const json = values.json === true;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const get = async (p: string) => {
    const res = await callAgent(socket, "GET", p, undefined, 10_000);
    if (res.status !== 200) {
      const msg = (res.body as { msg?: string })?.msg ?? `HTTP ${res.status}`;
      throw new ConfigError(msg);
    }
    return res.body;
  };
  switch (command) {
    case "status": {
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
            ["datapath", `${s.datapath.name}${s.datapath.enforcing ? "" : "  [NOT ENFORCING]"}`],
            [
              "control plane",
              `${s.controlPlane.mode}${s.controlPlane.api ? ` (${s.controlPlane.api})` : ""}${
                s.controlPlane.lastRevision !== undefined ? ` revision ${s.controlPlane.lastRevision}` : ""
              }`,
            ],
            ["endpoints", String(s.endpoints)],
            ...s.ipam.map((p) => [`ipam ${p.pool}`, `${p.used} used of ${p.usable}`]),
            ...s.peerRoutes.map((r) => [`route ${r.dst}`, `via ${r.via}`]),
            ["uptime", `${s.uptimeSeconds}s`],
            ...(s.lastError ? [["last error", s.lastError]] : []),
          ],
        ),
      );
      return 0;
    }
    case "endpoints": {
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
    }
    case "policy": {
      const ref = positionals[0];
      if (!ref)
        throw new UsageError("policy needs an endpoint: container id, pod name, namespace/name or IP");
      const body = (await get(`/v1/endpoints/${encodeURIComponent(ref)}/policy`)) as PolicyView;
      if (json) {
        out(JSON.stringify(body, null, 2));
        return 0;
      }
      const ep = body.endpoint;
      out(
        `endpoint  ${ep.podName ? `${ep.namespace ?? "default"}/${ep.podName}` : ep.containerId}  ${ep.addresses.join(", ")}`,
      );
      const d = body.desired;
      if (!d) {
        out("desired   none (no control-plane state for this endpoint)");
      } else {
        out(`identity  ${d.identity}`);
        out(`policies  ${d.policies.join(", ") || "none"}`);
        out(
          `enforced  ingress ${d.policyEnforced.ingress ? "yes (default deny)" : "no"}, egress ${d.policyEnforced.egress ? "yes (default deny)" : "no"}`,
        );
        if (d.entries.length) {
          out("");
          out(
            table(
              ["DIRECTION", "REMOTE IDENTITY", "PROTO", "PORTS", "VERDICT", "RULE"],
              d.entries.map((e) => [
                e.direction,
                e.remoteIdentity === 0 ? "any" : String(e.remoteIdentity),
                e.protocol === 0 ? "any" : String(e.protocol),
                e.portLow === 0 && e.portHigh === 65535
                  ? "any"
                  : e.portLow === e.portHigh
                    ? String(e.portLow)
                    : `${e.portLow}-${e.portHigh}`,
                e.verdict,
                e.ruleId,
              ]),
            ),
          );
        }
      }
      const dp = body.datapath as KernelPolicyView | { enforced: false; note?: string } | null;
      if (dp && dp.enforced === false) out(`\ndatapath  NOT ENFORCING: ${dp.note ?? ""}`);
      if (dp?.enforced) printKernelPolicy(dp, d?.entries ?? [], out);
      return 0;
    }
    case "flows": {
      const follow = values.follow === true;
      const ac = new AbortController();
      process.once("SIGINT", () => ac.abort());
      await get("/v1/status"); // fails with a clear message before a header is printed
      if (!json) out(table(["TIME", "SOURCE", "DESTINATION", "PROTO", "VERDICT", "REASON"], []));
      await streamAgent(
        socket,
        `/v1/flows${follow ? "?follow=1" : ""}`,
        (f) => {
          const e = f as {
            time: string;
            src: string;
            dst: string;
            proto: string;
            sport?: number;
            dport?: number;
            verdict: string;
            reason?: string;
          };
          if (json) return out(JSON.stringify(e));
          out(
            [
              e.time,
              `${e.src}${e.sport ? `:${e.sport}` : ""}`,
              `${e.dst}${e.dport ? `:${e.dport}` : ""}`,
              e.proto,
              e.verdict,
              e.reason ?? "",
            ].join("  "),
          );
        },
        ac.signal,
      );
      return 0;
    }
    case "bgp": {
      const [sub, kind, peer, family] = positionals;
      if (sub === "peers") {
        const st = (await get("/v1/bgp/peers")) as BgpStatus;
        out(formatPeers(st, { json }).replace(/\n$/, ""));
        return 0;
      }
      if (sub === "routes" && (kind === "received" || kind === "advertised") && peer) {
        const q = family ? `?family=${encodeURIComponent(family)}` : "";
        const routes = (await get(
          `/v1/bgp/routes/${kind}/${encodeURIComponent(peer)}${q}`,
        )) as LookingGlassRoute[];
        out(formatRoutes(routes, { json }).replace(/\n$/, ""));
        return 0;
      }
      throw new UsageError(
        `usage: meridian-agent bgp peers [--json] | bgp routes received|advertised <peer> [family] [--json]`,
      );
    }
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}
