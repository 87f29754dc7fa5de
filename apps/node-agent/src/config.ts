// Agent configuration: a JSON file (--config), then environment, then flags, later
// winning. Every field is validated once here; errors name the field and the source.
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { z } from "zod";
import { DEFAULT_AGENT_SOCKET } from "./agent/protocol.js";
import { parseCidr } from "./ipam/cidr.js";

const cidr = z.string().refine(
  (s) => {
    try {
      parseCidr(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: "must be a CIDR with no host bits set, e.g. 10.244.1.0/24" },
);
const address = z.string().refine((s) => isIP(s) !== 0, { message: "must be an IP address" });

export const agentConfigSchema = z.object({
  nodeName: z.string().min(1).default(hostname()),
  stateDir: z.string().min(1).default("/var/lib/meridian"),
  socketPath: z.string().min(1).default(DEFAULT_AGENT_SOCKET),
  /** host:port for /healthz and /metrics; empty disables the TCP listener. */
  httpAddress: z.string().default("127.0.0.1:9962"),
  podCIDRs: z.array(cidr).default([]),
  nodeAddresses: z.array(address).default([]),
  /** Other nodes, for standalone/lab use when no control plane provides them. */
  peers: z
    .array(z.object({ name: z.string().min(1), addresses: z.array(address), podCIDRs: z.array(cidr) }))
    .default([]),
  api: z.url().optional(),
  joinToken: z.string().min(1).optional(),
  /**
   * eBPF datapath: "auto" loads it when the machine allows (root, BTF, bpffs) and otherwise runs
   * unenforced with the reason in status; "ebpf" requires it; "none" never loads it.
   */
  datapath: z.enum(["auto", "ebpf", "none"]).default("auto"),
  /** Where maps and links are pinned; one directory per node (lab nodes share a kernel). */
  bpfPinDir: z.string().min(1).default("/sys/fs/bpf/meridian"),
  /** How often flow summaries go to the control plane: also their aggregation window (15 s). */
  flowReportIntervalMs: z.number().int().min(500).default(15_000),
  mtu: z.number().int().min(1280).max(65535).optional(),
  /**
   * With a control plane, CNI ADD waits this long for the endpoint's identity and compiled policy
   * to be in the datapath; after that ADD fails with CNI code 11 (try again later).
   */
  endpointPolicyTimeoutMs: z.number().int().min(100).default(20_000),
  /** How often endpoints whose pod vanished without a CNI DEL are collected (also once at start). */
  endpointGcIntervalMs: z.number().int().min(1_000).default(60_000),
  /**
   * FQDN policy's DNS proxy (features/dns): the port it listens on in the node's namespace (DNS the
   * datapath redirects arrives there), how long an allowed answer may wait for its addresses to be
   * in the datapath before the pod gets SERVFAIL instead, the lowest TTL a learned address is
   * kept for, how recently a connection must have carried a packet to keep an expired address,
   * and what a denied query gets.
   */
  dns: z
    .object({
      proxyPort: z.number().int().min(1).max(65535).default(10053),
      /**
       * IPv6 DNS is DNATed to this address (a /128 the agent puts on the node's lo) so the proxy's
       * replies leave with it and conntrack maps them back (features/dns/kernel.ts says why IPv4's
       * `redirect` does not work for IPv6). A ULA of ours; change it if it collides with yours.
       */
      proxyAddressV6: z.ipv6().default("fd6d:7264:6e73::53"),
      datapathTimeoutMs: z.number().int().min(1).max(10_000).default(100),
      minTtlSeconds: z.number().int().min(0).max(86_400).default(0),
      connectionIdleMs: z.number().int().min(100).max(3_600_000).default(60_000),
      upstreamTimeoutMs: z.number().int().min(100).max(30_000).default(5_000),
      deniedResponse: z.enum(["REFUSED", "NXDOMAIN"]).default("REFUSED"),
      /**
       * Learned (address, selector) entries per name of an endpoint, per endpoint and per node; the
       * oldest go first (an answer with thousands of records keeps its last ones).
       */
      maxAddressesPerName: z.number().int().min(1).max(100_000).default(1_000),
      maxLearnedPerEndpoint: z.number().int().min(1).max(1_000_000).default(5_000),
      maxLearnedPerNode: z.number().int().min(1).max(500_000).default(100_000),
      /**
       * The proxy runs as its own process and outlives the agent (restart, upgrade); with no agent
       * connected for this long it exits (the agent was stopped for good, or never came back).
       */
      proxyOrphanTimeoutMs: z.number().int().min(1_000).max(86_400_000).default(300_000),
    })
    .prefault({}),
  /**
   * Kubernetes (src/kubernetes/): a kubeconfig file to watch this node's pods, its Node and the
   * Namespaces with; without one the agent watches in-cluster when KUBERNETES_SERVICE_HOST is set
   * (a DaemonSet pod), and not at all otherwise.
   */
  kubeconfig: z.string().min(1).optional(),
  /** `io.cilium.k8s.policy.cluster` of this cluster's endpoints. */
  clusterName: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/, {
      message: "must be a DNS label of at most 32 characters",
    })
    .default("default"),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  flags?: Partial<Record<keyof AgentConfig, unknown>>;
}

export async function loadConfig({ file, env = {}, flags = {} }: ConfigSources): Promise<AgentConfig> {
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new ConfigError(`--config ${file}: ${(err as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`--config ${file}: not JSON: ${(err as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  if (env.MERIDIAN_API) fromEnv.api = env.MERIDIAN_API;
  if (env.MERIDIAN_JOIN_TOKEN) fromEnv.joinToken = env.MERIDIAN_JOIN_TOKEN;
  if (env.MERIDIAN_STATE_DIR) fromEnv.stateDir = env.MERIDIAN_STATE_DIR;
  if (env.MERIDIAN_NODE_NAME) fromEnv.nodeName = env.MERIDIAN_NODE_NAME;
  if (env.MERIDIAN_AGENT_SOCKET) fromEnv.socketPath = env.MERIDIAN_AGENT_SOCKET;
  if (env.MERIDIAN_BPF_PIN_DIR) fromEnv.bpfPinDir = env.MERIDIAN_BPF_PIN_DIR;
  if (env.MERIDIAN_DATAPATH) fromEnv.datapath = env.MERIDIAN_DATAPATH;
  if (env.MERIDIAN_KUBECONFIG) fromEnv.kubeconfig = env.MERIDIAN_KUBECONFIG;
  if (env.MERIDIAN_CLUSTER_NAME) fromEnv.clusterName = env.MERIDIAN_CLUSTER_NAME;
  const merged = {
    ...fromFile,
    ...fromEnv,
    ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
  };
  const parsed = agentConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid agent configuration: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    );
  }
  if (parsed.data.joinToken && !parsed.data.api) {
    throw new ConfigError(
      "invalid agent configuration: joinToken is set but api (--api / MERIDIAN_API) is not",
    );
  }
  return parsed.data;
}
