// meridian-cni: reads what the runtime gives it (environment + stdin), checks it, and asks
// the local agent to do the work. The plugin holds no state and touches no interface, so
// a runtime may run any number of copies at once; the agent serialises what must be.
import { AgentUnreachableError, callAgent } from "../agent/local-client.js";
import { type CniRequest, DEFAULT_AGENT_SOCKET } from "../agent/protocol.js";
import {
  CniCode,
  CniError,
  checkContainerId,
  checkIfname,
  describeZodError,
  LATEST_VERSION,
  type NetworkConfig,
  networkConfigSchema,
  parseCniArgs,
  parseLabelList,
  SUPPORTED_VERSIONS,
  versionSupported,
} from "./spec.js";

export interface PluginRun {
  env: Record<string, string | undefined>;
  stdin: string;
}
export interface PluginOutcome {
  exitCode: number;
  stdout: string;
}

const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"] as const;

export async function runPlugin({ env, stdin }: PluginRun): Promise<PluginOutcome> {
  let version = LATEST_VERSION;
  try {
    const command = env.CNI_COMMAND;
    if (!command) throw new CniError(CniCode.InvalidEnvironment, "CNI_COMMAND is not set");
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_COMMAND "${command}" is not one of ${COMMANDS.join(", ")}`,
      );
    }
    if (command === "VERSION") {
      // The runtime may send only {"cniVersion": ...} or nothing at all; answer in its version.
      let asked: unknown;
      try {
        asked = stdin.trim() ? (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion : undefined;
      } catch {
        asked = undefined;
      }
      const cniVersion = typeof asked === "string" && versionSupported(asked) ? asked : LATEST_VERSION;
      return ok({ cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] });
    }
    const config = parseConfig(stdin);
    version = config.cniVersion;
    if (!versionSupported(config.cniVersion)) {
      version = LATEST_VERSION;
      throw new CniError(
        CniCode.IncompatibleVersion,
        `cniVersion "${config.cniVersion}" is not supported`,
        `supported versions: ${SUPPORTED_VERSIONS.join(", ")}`,
      );
    }
    const socket = config.agentSocket ?? env.MERIDIAN_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET;
    if (command === "STATUS") return await status(socket);
    if (command === "GC") return await gc(socket, config);

    const req = buildRequest(command as "ADD" | "DEL" | "CHECK", env, config);
    let res: Awaited<ReturnType<typeof callAgent>>;
    try {
      res = await callAgent(socket, "POST", "/v1/cni", req);
    } catch (err) {
      if (err instanceof AgentUnreachableError) {
        throw new CniError(
          CniCode.TryAgainLater,
          err.message,
          "start meridian-agent on this node, then retry",
        );
      }
      throw err;
    }
    if (res.status === 200) {
      return command === "ADD" ? ok(res.body) : ok(undefined);
    }
    const body = res.body as { code?: number; msg?: string; details?: string } | string;
    if (typeof body === "object" && body && typeof body.code === "number") {
      throw new CniError(body.code, body.msg ?? "agent error", body.details);
    }
    throw new CniError(CniCode.Internal, `agent answered HTTP ${res.status}`, String(body).slice(0, 500));
  } catch (err) {
    const e =
      err instanceof CniError ? err : new CniError(CniCode.Internal, (err as Error).message ?? String(err));
    return {
      exitCode: 1,
      stdout: `${JSON.stringify(e.toJSON(versionSupported(version) ? version : LATEST_VERSION))}\n`,
    };
  }
}

/** CNI GC (1.1): the agent deletes every endpoint the runtime no longer lists. */
async function gc(socket: string, config: NetworkConfig): Promise<PluginOutcome> {
  const valid = config["cni.dev/valid-attachments"];
  if (!valid) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      "cni.dev/valid-attachments is required for GC",
      "the runtime lists the attachments that are still in use; every other one is deleted",
    );
  }
  let res: Awaited<ReturnType<typeof callAgent>>;
  try {
    res = await callAgent(socket, "POST", "/v1/cni/gc", {
      validAttachments: valid.map((a) => ({ containerId: a.containerID, ifname: a.ifname })),
    });
  } catch (err) {
    if (err instanceof AgentUnreachableError)
      throw new CniError(CniCode.TryAgainLater, err.message, "start meridian-agent on this node, then retry");
    throw err;
  }
  if (res.status === 200) return ok(undefined);
  const body = res.body as { code?: number; msg?: string } | string;
  if (typeof body === "object" && body && typeof body.code === "number")
    throw new CniError(body.code, body.msg ?? "agent error");
  throw new CniError(CniCode.Internal, `agent answered HTTP ${res.status}`, String(body).slice(0, 500));
}

function ok(body: unknown): PluginOutcome {
  return { exitCode: 0, stdout: body === undefined ? "" : `${JSON.stringify(body)}\n` };
}

function parseConfig(stdin: string): NetworkConfig {
  if (!stdin.trim()) {
    throw new CniError(CniCode.DecodeFailure, "no network configuration on stdin (expected a JSON object)");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(
      CniCode.DecodeFailure,
      `network configuration on stdin is not JSON: ${(err as Error).message}`,
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CniError(CniCode.DecodeFailure, "network configuration on stdin must be a JSON object");
  }
  const parsed = networkConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      describeZodError("invalid network configuration", parsed.error),
    );
  }
  return parsed.data;
}

function buildRequest(
  command: "ADD" | "DEL" | "CHECK",
  env: Record<string, string | undefined>,
  config: NetworkConfig,
): CniRequest {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new CniError(CniCode.InvalidEnvironment, `${name} is not set (required for ${command})`);
    return v;
  };
  const containerId = need("CNI_CONTAINERID");
  checkContainerId(containerId);
  const ifname = need("CNI_IFNAME");
  checkIfname(ifname);
  // DEL must work even when the namespace is already gone, so CNI_NETNS is optional there.
  const netns = command === "DEL" ? env.CNI_NETNS || undefined : need("CNI_NETNS");
  if (command !== "DEL") need("CNI_PATH");
  const args = parseCniArgs(env.CNI_ARGS);
  const labels: Record<string, string> = {};
  for (const l of config.args?.cni?.labels ?? []) labels[l.key] = l.value;
  Object.assign(labels, config.runtimeConfig?.labels ?? {});
  if (args.MERIDIAN_LABELS)
    Object.assign(labels, parseLabelList(args.MERIDIAN_LABELS, "CNI_ARGS MERIDIAN_LABELS"));
  return {
    command,
    cniVersion: config.cniVersion,
    containerId,
    netns,
    ifname,
    args,
    labels,
    mtu: config.mtu,
    prevResult: config.prevResult,
  };
}

async function status(socket: string): Promise<PluginOutcome> {
  try {
    const res = await callAgent(socket, "GET", "/v1/cni/status", undefined, 5_000);
    if (res.status === 200) return ok(undefined);
    const body = res.body as { msg?: string };
    throw new CniError(CniCode.PluginNotAvailable, body?.msg ?? `agent answered HTTP ${res.status}`);
  } catch (err) {
    if (err instanceof AgentUnreachableError) throw new CniError(CniCode.PluginNotAvailable, err.message);
    throw err;
  }
}
