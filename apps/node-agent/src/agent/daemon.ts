// The meridian-agent daemon: wires IPAM, endpoints, node routing, the datapath seam, the
// local listeners and (when configured) the control-plane sync together.
import { chmod, mkdir, unlink } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import pino, { type Logger } from "pino";
import { CniCode, CniError } from "../cni/spec.js";
import { type AgentConfig, ConfigError } from "../config.js";
import {
  BgpController,
  type BgpControllerOptions,
  bgpComponentStatus,
  lookingGlassSnapshot,
  nativeTransport,
  recordGracefulStop,
  takeGracefulStop,
} from "../features/bgp/index.js";
import {
  type AgentEndpoint,
  type Datapath,
  type FlowEvent,
  UnenforcedDatapath,
} from "../features/policy/datapath.js";
import { desiredPeerRoutes, type PeerNode, reconcilePeerRoutes } from "../features/routing/node-routes.js";
import { Ipam } from "../ipam/allocator.js";
import { setSysctls } from "../routing/exec.js";
import { AgentMetrics } from "../status/metrics.js";
import type { ComponentStatus, NodeDesiredState } from "../sync/channel.js";
import type { SyncTarget } from "../sync/loop.js";
import { EndpointManager } from "./endpoints.js";
import { createHandler } from "./local-api.js";
import type { AgentStatusView } from "./protocol.js";

type LocalEndpointState = NodeDesiredState["endpoints"][number];
/** The API's reserved "init" identity (packages/api/src/compiler/identity.ts). */
const INIT_IDENTITY = 5;

export interface AgentOptions {
  /** The eBPF datapath; without one the agent runs with {@link UnenforcedDatapath}. */
  datapath?: Datapath;
  logger?: Logger;
  /**
   * BGP controller options for tests (e.g. a listen port); by default the controller uses the
   * native transport (TCP-MD5, TTL) and listens on :179 once an instance selects this node.
   */
  bgp?: Partial<BgpControllerOptions> | false;
}

export class Agent implements SyncTarget {
  readonly metrics = new AgentMetrics();
  readonly log: Logger;
  readonly datapath: Datapath;
  endpoints!: EndpointManager;
  /** The node's BGP speaker, driven by `state.bgp`; created in start(). */
  bgp?: BgpController;
  /** Set by the sync loop: the API's `agent.bgpPassword` query. */
  bgpPassword?: (ref: string) => Promise<string | undefined>;
  private ipam!: Ipam;
  private unixServer?: http.Server;
  private tcpServer?: http.Server;
  private readonly startedAt = Date.now();
  private peers: PeerNode[];
  private peerRoutes: { dst: string; via: string }[] = [];
  private lastError?: string;
  /** Set by the sync loop. */
  controlPlane: AgentStatusView["controlPlane"];
  httpPort?: number;
  private started = false;
  private desired?: { state: NodeDesiredState; revision: number };
  private desiredWaiters: (() => void)[] = [];
  private endpointListeners: (() => void)[] = [];
  /** Called after every applied desired state (endpoint admission waits on them). */
  private appliedListeners = new Set<() => void>();
  /** Set by the sync loop: sends the endpoint inventory to the control plane now. */
  private endpointReporter?: () => Promise<void>;
  private bgpRouteListeners: (() => void)[] = [];
  /** BGP has applied a desired state: before that an empty looking glass would mean nothing. */
  private bgpApplied = false;

  constructor(
    readonly config: AgentConfig,
    private readonly opts: AgentOptions = {},
  ) {
    this.log = opts.logger ?? pino({ level: config.logLevel, base: { node: config.nodeName } });
    this.datapath = opts.datapath ?? new UnenforcedDatapath();
    const dp = this.datapath;
    if (dp.counters) this.metrics.watchDatapath(() => dp.counters?.() ?? []);
    this.peers = config.peers;
    this.controlPlane = config.api ? { mode: "disconnected", api: config.api } : { mode: "standalone" };
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.podCIDRs.length === 0 && this.desired) {
      // Joined without --pod-cidr: the control plane's node object says which they are.
      config.podCIDRs = [...this.desired.state.node.podCIDRs];
    }
    if (config.podCIDRs.length === 0) {
      throw new ConfigError(
        "no PodCIDR for this node: pass --pod-cidr (repeatable), set podCIDRs in --config, or give the node PodCIDRs in the control plane",
      );
    }
    if (!this.datapath.enforcing)
      this.log.warn({ datapath: this.datapath.name }, "policy is NOT enforced on this node");
    await mkdir(config.stateDir, { recursive: true });
    // A node routes between its pods and other nodes.
    await setSysctls({ "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1" });
    this.ipam = await Ipam.open(config.podCIDRs, config.stateDir);
    this.endpoints = new EndpointManager(
      this.ipam,
      this.datapath,
      config.stateDir,
      this.log,
      this.metrics,
      config.mtu,
    );
    await this.endpoints.load();
    if (this.opts.bgp !== false) await this.startBgp(this.opts.bgp ?? {});
    // With a control plane, a pod's first packet must meet its policy: ADD waits for it.
    if (config.api) this.endpoints.admission = (ep) => this.admitEndpoint(ep);
    this.endpoints.onChange(() => {
      for (const l of this.endpointListeners) l();
    });
    // Pods whose network namespace vanished without a DEL (e.g. while this agent was down).
    this.endpoints.startCollecting(config.endpointGcIntervalMs);
    // A bad peer route must not keep pods from being plumbed: it is reported, not fatal.
    await this.applyPeers(this.peers).catch(() => undefined);
    await this.listenUnix();
    if (config.httpAddress) await this.listenTcp(config.httpAddress);
    this.started = true;
    // A desired state that arrived (or was loaded from disk) before start is applied now.
    if (this.desired)
      await this.applyDesiredState(this.desired.state, this.desired.revision).catch(() => undefined);
    for (const l of this.endpointListeners) l();
    this.log.info(
      {
        socket: config.socketPath,
        http: config.httpAddress,
        podCIDRs: config.podCIDRs,
        endpoints: this.endpoints.list().length,
      },
      "agent started",
    );
  }

  /** Reconciles routes to other nodes' PodCIDRs; keeps the last good set on failure. */
  async applyPeers(peers: PeerNode[]): Promise<void> {
    try {
      const desired = desiredPeerRoutes(peers.filter((p) => p.name !== this.config.nodeName));
      const changes = await reconcilePeerRoutes(desired);
      this.peers = peers;
      this.peerRoutes = desired;
      this.metrics.peerRoutes.set(desired.length);
      if (this.lastError?.startsWith("peer routes")) this.lastError = undefined;
      if (changes.added.length || changes.removed.length) this.log.info(changes, "peer routes reconciled");
    } catch (err) {
      this.metrics.applyErrors.inc({ component: "routing" });
      this.lastError = `peer routes: ${(err as Error).message}`;
      this.log.error({ err }, "applying peer routes failed; keeping the previous routes");
      throw err;
    }
  }

  // --- SyncTarget: what the control-plane loop drives -------------------------------------

  async applyDesiredState(state: NodeDesiredState, revision: number): Promise<void> {
    if (!this.started) {
      this.desired = { state, revision };
      for (const w of this.desiredWaiters.splice(0)) w();
      return;
    }
    const mine = [...this.config.podCIDRs].sort().join(",");
    const theirs = [...state.node.podCIDRs].sort().join(",");
    if (theirs && mine !== theirs) {
      // Pods hold addresses from the running PodCIDRs; changing them needs a drained node.
      this.log.warn(
        { running: this.config.podCIDRs, desired: state.node.podCIDRs },
        "PodCIDRs differ from the control plane's; keeping the running ones",
      );
    }
    try {
      await this.datapath.applyDesiredState?.(state);
    } catch (err) {
      this.metrics.applyErrors.inc({ component: "datapath" });
      this.lastError = `revision ${revision}: ${(err as Error).message}`;
      throw err;
    }
    await this.applyBgp(state);
    // Routes to other nodes' PodCIDRs follow the control plane; the configured peers are the
    // fallback for states that do not carry them (standalone, or an older control plane).
    if (state.peers) await this.applyPeers(state.peers).catch(() => undefined);
    this.desired = { state, revision };
    if (!this.lastError?.startsWith("peer routes")) this.lastError = undefined;
    this.metrics.lastAppliedRevision.set(revision);
    this.controlPlane = { ...this.controlPlane, lastRevision: revision };
    for (const l of [...this.appliedListeners]) l();
  }

  /** The sync loop hands the agent a way to report endpoints at once (CNI ADD uses it). */
  setEndpointReporter(report: () => Promise<void>): void {
    this.endpointReporter = report;
  }

  /**
   * The applied desired state's entry for exactly this pod with a real identity (not
   * reserved:init), or undefined. Matched by namespace/name and address so a previous pod with
   * the same name or a reused address does not count.
   */
  private admittedEntry(ep: AgentEndpoint): LocalEndpointState | undefined {
    const ns = ep.namespace ?? "default";
    return this.desired?.state.endpoints.find(
      (d) =>
        d.namespace === ns &&
        d.name === ep.podName &&
        d.identity !== 0 &&
        d.identity !== INIT_IDENTITY &&
        (d.ipv4 === undefined || ep.addresses.includes(d.ipv4)) &&
        (d.ipv6 === undefined || ep.addresses.includes(d.ipv6)),
    );
  }

  /**
   * CNI ADD with a control plane: registers the endpoint with the API at once and resolves when
   * an applied desired state holds it with its identity and compiled policy (the datapath has
   * them then). Rejects with CNI code 11 after `endpointPolicyTimeoutMs`.
   */
  async admitEndpoint(ep: AgentEndpoint): Promise<void> {
    // Without a pod name the endpoint is never reported, so the control plane cannot know it.
    if (!ep.podName || this.admittedEntry(ep)) return;
    const timeoutMs = this.config.endpointPolicyTimeoutMs;
    const started = Date.now();
    let listener: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        listener = () => {
          if (this.admittedEntry(ep)) resolve();
        };
        this.appliedListeners.add(listener);
        timer = setTimeout(
          () =>
            reject(
              new CniError(
                CniCode.TryAgainLater,
                `the control plane did not assign an identity to pod ${ep.namespace ?? "default"}/${ep.podName} in time (${Math.round(timeoutMs / 100) / 10} s); the endpoint was rolled back, try again later`,
              ),
            ),
          timeoutMs,
        );
        // A report that fails or hangs is left to the deadline (the sync loop retries it).
        this.endpointReporter?.().catch((err) =>
          this.log.warn({ err: (err as Error).message, endpoint: ep.id }, "endpoint registration failed"),
        );
      });
      this.log.info({ endpoint: ep.id, waitedMs: Date.now() - started }, "endpoint policy in the datapath");
    } finally {
      if (listener) this.appliedListeners.delete(listener);
      clearTimeout(timer);
    }
  }

  private async startBgp(opts: Partial<BgpControllerOptions>): Promise<void> {
    let transport = opts.transport;
    if (!transport) {
      try {
        transport = await nativeTransport();
      } catch (err) {
        // Sessions still work; TCP-MD5 and multihop TTL do not.
        this.log.warn(
          { err: (err as Error).message },
          "native addon unavailable: BGP runs without TCP-MD5/TTL",
        );
      }
    }
    const restarting = await takeGracefulStop(this.config.stateDir);
    if (restarting) this.log.info("BGP: graceful restart after a graceful stop (peers keep our routes)");
    this.bgp = new BgpController({
      ...opts,
      ...(transport ? { transport } : {}),
      restarting,
      resolvePassword: opts.resolvePassword ?? (async (ref) => this.bgpPassword?.(ref)),
    });
    this.bgp.onRoutesChanged(() => {
      for (const l of this.bgpRouteListeners) l();
    });
  }

  /** BGP follows the desired state; a failed apply keeps the last good sessions and shows in status. */
  private async applyBgp(state: NodeDesiredState): Promise<void> {
    if (!this.bgp) return;
    try {
      await this.bgp.apply(state.bgp ?? { instances: [] }, {
        nodeAddresses: state.node.addresses,
        ...(state.srv6 ? { srv6: state.srv6 } : {}),
      });
    } catch (err) {
      this.metrics.applyErrors.inc({ component: "bgp" });
      this.log.error({ err }, "applying BGP failed; keeping the last good BGP state");
    }
    if (!this.bgpApplied) {
      this.bgpApplied = true;
      for (const l of this.bgpRouteListeners) l();
    }
  }

  /** Each peer's received and advertised routes, bounded per table, for the control plane. */
  bgpLookingGlass() {
    return this.bgp && this.bgpApplied ? lookingGlassSnapshot(this.bgp) : undefined;
  }

  onBgpRoutesChanged(listener: () => void): void {
    this.bgpRouteListeners.push(listener);
  }

  /** Resolves once a desired state (from disk or the control plane) is known. */
  waitForDesiredState(): Promise<void> {
    if (this.desired) return Promise.resolve();
    return new Promise((resolve) => this.desiredWaiters.push(resolve));
  }

  setSyncConnected(connected: boolean, revision?: number): void {
    this.metrics.syncConnected.set(connected ? 1 : 0);
    this.controlPlane = {
      mode: connected ? "connected" : "disconnected",
      api: this.config.api,
      ...(revision !== undefined ? { lastRevision: revision } : {}),
    };
  }

  components(): ComponentStatus[] {
    return [
      this.lastError?.startsWith("revision")
        ? { component: "datapath", state: "error" as const, message: this.lastError }
        : {
            component: "datapath",
            state: this.datapath.enforcing ? ("ok" as const) : ("degraded" as const),
            message: this.datapath.name,
          },
      {
        component: "cni",
        state: "ok",
        message: `${this.started ? this.endpoints.list().length : 0} endpoints`,
        detail: { podCIDRs: this.config.podCIDRs },
      },
      {
        component: "routing",
        state: this.lastError?.startsWith("peer routes") ? "error" : "ok",
        message: `${this.peerRoutes.length} routes to other nodes' PodCIDRs`,
      },
      ...(this.bgp ? [bgpComponentStatus(this.bgp.status())] : []),
    ];
  }

  endpointList(): AgentEndpoint[] {
    return this.started ? this.endpoints.list() : [];
  }

  onEndpointsChanged(listener: () => void): void {
    this.endpointListeners.push(listener);
  }

  onFlow(listener: (flow: FlowEvent) => void): void {
    this.datapath.flows.on("flow", listener);
  }

  /** The control plane's view of an endpoint (its compiled policy), if it has one. */
  desiredFor(ep: AgentEndpoint): unknown {
    const state = this.desired?.state;
    if (!state) return undefined;
    return state.endpoints.find(
      (d) =>
        (d.namespace === (ep.namespace ?? "default") && d.name === ep.podName) ||
        (d.ipv4 !== undefined && ep.addresses.includes(d.ipv4)) ||
        (d.ipv6 !== undefined && ep.addresses.includes(d.ipv6)),
    );
  }

  status(): AgentStatusView {
    return {
      nodeName: this.config.nodeName,
      podCIDRs: this.config.podCIDRs,
      datapath: { name: this.datapath.name, enforcing: this.datapath.enforcing },
      controlPlane: this.controlPlane,
      endpoints: this.endpoints.list().length,
      peerRoutes: this.peerRoutes,
      ipam: this.ipam.capacity().map((c) => ({ pool: c.pool, used: c.used, usable: c.usable.toString() })),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.endpoints?.stopCollecting();
    // Pods, routes, maps and programs stay: stopping the agent must not disturb traffic.
    // BGP stops gracefully: peers keep our routes until the next agent's End-of-RIB.
    if (this.bgp) {
      const running = this.bgp.status().running;
      await this.bgp.stop({ graceful: true }).catch((err) => this.log.warn({ err }, "BGP stop failed"));
      if (running) await recordGracefulStop(this.config.stateDir).catch(() => undefined);
    }
    await Promise.all(
      [this.unixServer, this.tcpServer].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s) return resolve();
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    await unlink(this.config.socketPath).catch(() => undefined);
    await this.datapath.close();
  }

  private surface() {
    return {
      endpoints: this.endpoints,
      datapath: this.datapath,
      metrics: this.metrics,
      status: () => this.status(),
      desiredFor: (ep: AgentEndpoint) => this.desiredFor(ep),
      bgp: this.bgp,
      unhealthyReason: () => null,
    };
  }

  private async listenUnix(): Promise<void> {
    const socket = this.config.socketPath;
    await mkdir(path.dirname(socket), { recursive: true });
    if (await socketIsLive(socket)) {
      throw new ConfigError(`another agent is already serving ${socket}; stop it first`);
    }
    await unlink(socket).catch(() => undefined);
    const server = http.createServer(createHandler(this.surface(), true));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socket, () => resolve());
    });
    // Only root (and the runtime, as root) may ask for interfaces and addresses.
    await chmod(socket, 0o660);
    this.unixServer = server;
  }

  private async listenTcp(address: string): Promise<void> {
    const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
    if (!m) throw new ConfigError(`httpAddress "${address}" is not host:port`);
    const server = http.createServer(createHandler(this.surface(), false));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(Number(m[2]), m[1] || undefined, () => resolve());
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.httpPort = addr.port;
    this.tcpServer = server;
  }
}

function socketIsLive(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}
