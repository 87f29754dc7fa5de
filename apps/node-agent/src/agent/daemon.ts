// The meridian-agent daemon: IPAM and endpoints (CNI), the local listeners, and a loop over the
// registered subsystems (src/features/registry.ts: policy datapath, BGP, routing), which it starts,
// hands every desired state, asks for their status and closes. The sync loop drives it when the
// agent has a control plane.
import { chmod, mkdir, unlink } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { cniStatusSchema } from "@meridian/model";
import pino, { type Logger } from "pino";
import type { z } from "zod";
import { type AgentConfig, ConfigError } from "../config.js";
import type { AgentFeature, FeatureContext } from "../features/feature.js";
import { createFeatures, type FeatureOptions } from "../features/registry.js";
import { Ipam } from "../ipam/allocator.js";
import { EndpointLabeller } from "../kubernetes/endpoint-labels.js";
import { KubernetesInventory, loadKubeConfig } from "../kubernetes/inventory.js";
import { setSysctls } from "../routing/exec.js";
import { AgentMetrics } from "../status/metrics.js";
import type { ComponentStatus, NodeDesiredState } from "../sync/channel.js";
import type { SyncTarget } from "../sync/loop.js";
import { AGENT_VERSION } from "../version.js";
import { EndpointAdmission } from "./admission.js";
import { type AgentEndpoint, type EndpointHooks, EndpointManager } from "./endpoints.js";
import { coreRoutes, createHandler, type LocalRoute, sendJson } from "./local-api.js";
import type { AgentStatusView } from "./protocol.js";

/** The agent's own component: the endpoints it plumbed and its PodCIDRs (schema shared with the API). */
export { cniStatusSchema };

export interface AgentOptions extends FeatureOptions {
  logger?: Logger;
}

export class Agent implements SyncTarget {
  readonly metrics = new AgentMetrics();
  readonly log: Logger;
  /** The subsystems, in registry order: applied, reported and closed in it. */
  readonly features: readonly AgentFeature[];
  endpoints!: EndpointManager;
  private ipam!: Ipam;
  private unixServer?: http.Server;
  private tcpServer?: http.Server;
  private readonly startedAt = Date.now();
  /** Set by the sync loop. */
  controlPlane: AgentStatusView["controlPlane"];
  httpPort?: number;
  private started = false;
  private desired?: { state: NodeDesiredState; revision: number };
  private desiredWaiters: (() => void)[] = [];
  private endpointListeners: (() => void)[] = [];
  /** CNI ADD waits here for an applied desired state that holds the new pod. */
  private readonly admission: EndpointAdmission;
  /** What the agent learns from the Kubernetes API server (pods on this node, its Node, Namespaces). */
  kubernetes?: KubernetesInventory;

  constructor(
    readonly config: AgentConfig,
    opts: AgentOptions = {},
  ) {
    this.log = opts.logger ?? pino({ level: config.logLevel, base: { node: config.nodeName } });
    this.controlPlane = config.api ? { mode: "disconnected", api: config.api } : { mode: "standalone" };
    // What status says is in force is what the metric says: a revision acknowledged without a
    // datapath change (same content, newer revision) moves both.
    this.metrics.revisionInForce = () => this.controlPlane.lastRevision ?? this.desired?.revision ?? 0;
    const ctx: FeatureContext = {
      config,
      log: this.log,
      metrics: this.metrics,
      // Routes are served only once start() has made the endpoint manager.
      endpoint: (ref) => this.endpoints?.find(ref),
      desiredState: () => this.desired?.state,
    };
    this.features = createFeatures(ctx, opts);
    this.admission = new EndpointAdmission(config.endpointPolicyTimeoutMs, this.log);
    for (const f of this.features) for (const m of f.metrics) this.metrics.registry.registerMetric(m);
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
    await mkdir(config.stateDir, { recursive: true });
    // A node routes between its pods and other nodes.
    await setSysctls({ "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1" });
    this.ipam = await Ipam.open(config.podCIDRs, config.stateDir);
    this.endpoints = new EndpointManager(
      this.ipam,
      this.endpointHooks(),
      config.stateDir,
      this.log,
      this.metrics,
      config.mtu,
    );
    for (const f of this.features) await f.start();
    // Endpoints the last agent plumbed are handed to the subsystems again: they adopt, not rebuild.
    await this.endpoints.load();
    for (const f of this.features) await f.onEndpointsLoaded?.();
    // With a control plane, a pod's first packet must meet its policy: ADD waits for it.
    if (config.api) this.endpoints.admission = (ep) => this.admitEndpoint(ep);
    this.endpoints.onChange(() => {
      for (const l of this.endpointListeners) l();
    });
    this.startKubernetes();
    // Pods whose network namespace vanished without a DEL (e.g. while this agent was down).
    this.endpoints.startCollecting(config.endpointGcIntervalMs);
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
        version: AGENT_VERSION,
      },
      "agent started",
    );
  }

  /**
   * With a kubeconfig, or in a cluster, endpoints get their pods' labels. Never awaited: an API
   * server that is away must not keep the agent (and its datapath) from starting.
   */
  private startKubernetes(): void {
    const { config } = this;
    if (!config.kubeconfig && !process.env.KUBERNETES_SERVICE_HOST) return;
    this.kubernetes = new KubernetesInventory({
      kubeConfig: loadKubeConfig(config.kubeconfig),
      nodeName: config.nodeName,
      clusterName: config.clusterName,
      log: this.log.child({ component: "kubernetes" }),
    });
    new EndpointLabeller(this.kubernetes, this.endpoints, this.log);
    void this.kubernetes.start();
  }

  /** Every subsystem's endpoint hooks, in registry order; a failure is counted against its subsystem. */
  private endpointHooks(): EndpointHooks {
    const run = async (hook: "onEndpointAdded" | "onEndpointRemoved", ep: AgentEndpoint) => {
      for (const f of this.features) {
        if (!f[hook]) continue;
        try {
          await f[hook](ep);
        } catch (err) {
          this.metrics.applyErrors.inc({ component: f.component });
          throw err;
        }
      }
    };
    return {
      onEndpointAdded: (ep) => run("onEndpointAdded", ep),
      onEndpointRemoved: (ep) => run("onEndpointRemoved", ep),
    };
  }

  // --- SyncTarget: what the control-plane loop drives -------------------------------------

  /**
   * Hands the state to every subsystem in registry order. One that refuses a state it cannot
   * apply (the policy datapath) stops the loop and the state is rejected (the sync loop keeps the
   * previous one); the others keep their last good state and report the error.
   */
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
    const previous = this.desired?.state;
    for (const f of this.features) {
      try {
        await f.apply(state, previous);
      } catch (err) {
        this.metrics.applyErrors.inc({ component: f.component });
        if (f.refusesStateOnFailure) throw err;
        this.log.error(
          { err, component: f.component, revision },
          "apply failed; keeping the last good state",
        );
      }
    }
    this.desired = { state, revision };
    this.controlPlane = { ...this.controlPlane, lastRevision: revision };
    this.admission.onApplied(state);
  }

  /** The sync loop hands the agent a way to report endpoints at once (CNI ADD uses it). */
  setEndpointReporter(report: () => Promise<void>): void {
    this.admission.reporter = report;
  }

  /** CNI ADD with a control plane: resolves once an applied desired state holds this pod. */
  admitEndpoint(ep: AgentEndpoint): Promise<void> {
    return this.admission.admit(ep);
  }

  /** Resolves once a desired state (from disk or the control plane) is known. */
  waitForDesiredState(): Promise<void> {
    if (this.desired) return Promise.resolve();
    return new Promise((resolve) => this.desiredWaiters.push(resolve));
  }

  setSyncConnected(connected: boolean, revision?: number): void {
    this.metrics.syncConnected.set(connected ? 1 : 0);
    const { rejected } = this.controlPlane;
    this.controlPlane = {
      mode: connected ? "connected" : "disconnected",
      api: this.config.api,
      ...(revision !== undefined ? { lastRevision: revision } : {}),
      ...(rejected ? { rejected } : {}),
    };
  }

  setRejectedState(rejected: NonNullable<AgentStatusView["controlPlane"]["rejected"]> | undefined): void {
    if (rejected) this.metrics.applyErrors.inc({ component: "sync" });
    const { rejected: _old, ...rest } = this.controlPlane;
    this.controlPlane = rejected ? { ...rest, rejected } : rest;
  }

  /** Every subsystem's component, then the agent's own (`cni`). */
  components(): ComponentStatus[] {
    const cni: z.infer<typeof cniStatusSchema> = {
      component: "cni",
      state: "ok",
      message: `${this.started ? this.endpoints.list().length : 0} endpoints`,
      detail: { podCIDRs: this.config.podCIDRs },
    };
    return [...this.features.flatMap((f) => f.status() ?? []), cni];
  }

  endpointList(): AgentEndpoint[] {
    return this.started ? this.endpoints.list() : [];
  }

  onEndpointsChanged(listener: () => void): void {
    this.endpointListeners.push(listener);
  }

  /** The core's fields, each subsystem's (datapath, peer routes), and the first subsystem error. */
  status(): AgentStatusView {
    const lastError = this.features.map((f) => f.lastError()).find((e) => e !== undefined);
    return {
      nodeName: this.config.nodeName,
      podCIDRs: this.config.podCIDRs,
      ...Object.assign({}, ...this.features.map((f) => f.statusView())),
      controlPlane: this.controlPlane,
      endpoints: this.endpoints.list().length,
      ...(this.kubernetes ? { kubernetes: this.kubernetes.statusView() } : {}),
      ipam: this.ipam.capacity().map((c) => ({ pool: c.pool, used: c.used, usable: c.usable.toString() })),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ...(lastError ? { lastError } : {}),
    } as AgentStatusView;
  }

  // Declared before stopRequested: a field declared after it would be reset after its initializer ran.
  private requestStop: () => void = () => undefined;
  /** Resolves when `meridian-agent stop` asked this agent to stop for good (POST /v1/stop). */
  readonly stopRequested: Promise<void> = new Promise((resolve) => {
    this.requestStop = resolve;
  });

  async close(opts?: { forGood?: boolean }): Promise<void> {
    this.endpoints?.stopCollecting();
    await this.kubernetes?.stop();
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
    // Pods, routes, maps and programs stay: stopping the agent must not disturb traffic.
    for (const f of [...this.features].reverse()) {
      await f.close(opts).catch((err) => this.log.warn({ err, component: f.component }, "closing failed"));
    }
  }

  private routes(): LocalRoute[] {
    return [
      ...coreRoutes({
        endpoints: this.endpoints,
        metrics: this.metrics,
        status: () => this.status(),
        unhealthyReason: () => null,
      }),
      {
        method: "POST",
        path: "/v1/stop",
        handle: ({ res }) => {
          sendJson(res, 202, { stopping: true });
          this.requestStop();
        },
      },
      ...this.features.flatMap((f) => f.routes),
    ];
  }

  private async listenUnix(): Promise<void> {
    const socket = this.config.socketPath;
    await mkdir(path.dirname(socket), { recursive: true });
    if (await socketIsLive(socket)) {
      throw new ConfigError(`another agent is already serving ${socket}; stop it first`);
    }
    await unlink(socket).catch(() => undefined);
    const server = http.createServer(createHandler(this.routes(), true));
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
    const server = http.createServer(createHandler(this.routes(), false));
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
