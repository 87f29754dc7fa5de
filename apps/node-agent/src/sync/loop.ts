// The control-plane channel's lifecycle: join once (credential kept on disk), follow the
// desired state (resuming from the last revision applied), apply it through the agent,
// acknowledge every revision, heartbeat, report endpoints, and start each subsystem's own
// reports (flow summaries, the BGP looking glass: AgentFeature.connect). The datapath never waits
// for the control plane: while it is away the agent keeps its last state and this loop
// reconnects with capped, jittered backoff.
// The event semantics (how a delta applies, when there is a gap) are the API's own pure
// module, so agent and server cannot disagree about them.
import { applyDesiredStateEvent, checkDesiredState, DesiredStateGapError } from "@meridian/model";
import type { Logger } from "pino";
import type { AgentEndpoint } from "../agent/endpoints.js";
import type { AgentFeature, FeatureUplink } from "../features/feature.js";
import { AGENT_VERSION } from "../version.js";
import {
  type ComponentStatus,
  type ControlPlaneChannel,
  ControlPlaneRejectedError,
  type DesiredStateEvent,
  type NodeDesiredState,
  type ReportedEndpoint,
} from "./channel.js";
import { SyncStore } from "./store.js";
import { createTrpcChannel } from "./trpc-channel.js";

export { AGENT_VERSION };

/** What the loop needs from the agent (the daemon implements it). */
export interface SyncTarget {
  readonly log: Logger;
  readonly config: {
    api?: string;
    joinToken?: string;
    nodeName: string;
    stateDir: string;
    podCIDRs: string[];
    nodeAddresses: string[];
  };
  /** Applies a desired state; throws to reject it (the previous one stays in force). */
  applyDesiredState(state: NodeDesiredState, revision: number): Promise<void>;
  setSyncConnected(connected: boolean, revision?: number): void;
  /** The last desired state refused before it reached any subsystem (shape or hash), or none. */
  setRejectedState(rejected: RejectedState | undefined): void;
  components(): ComponentStatus[];
  endpointList(): AgentEndpoint[];
  onEndpointsChanged(listener: () => void): void;
  /** Receives a function that sends the endpoint inventory now (CNI ADD registers pods with it). */
  setEndpointReporter(report: () => Promise<void>): void;
  /** The agent's subsystems: each may keep reports of its own going (flows, the BGP looking glass). */
  readonly features: readonly Pick<AgentFeature, "component" | "connect">[];
}

export interface RejectedState {
  revision: number;
  /** Where it came from: the stream or the copy on disk. */
  source: "control plane" | "disk";
  /** The fields and reasons, e.g. `ipcache[3].cidr: …`, or the hash mismatch. */
  reason: string;
  at: string;
}

export interface SyncOptions {
  channel?: (credential: () => string | undefined) => ControlPlaneChannel;
  heartbeatMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  /**
   * How often component status is checked between desired states (default 5 s); it is reported
   * only when it changed, e.g. a BGP session came up or went down with a reason.
   */
  statusCheckMs?: number;
}

export class SyncLoop {
  private channel: ControlPlaneChannel;
  private credential?: string;
  private unsubscribe?: () => void;
  private stopped = false;
  private applied?: { revision: number; contentHash: string };
  /** The full state last applied; deltas apply on top of it. */
  private current: NodeDesiredState | null = null;
  private backoffMs: number;
  private timers = new Set<NodeJS.Timeout>();
  private readonly store: SyncStore;
  private endpointsDirty = false;
  private applyChain: Promise<unknown> = Promise.resolve();
  /** Endpoint reports go out one at a time, so an older inventory never lands after a newer one. */
  private reportChain: Promise<unknown> = Promise.resolve();
  /** The subsystems' own reports, started with the loop. */
  private uplinks: FeatureUplink[] = [];
  /** The components as last reported, without counters that tick on their own (uptime). */
  private reportedStatus?: string;

  constructor(
    private readonly agent: SyncTarget,
    private readonly opts: SyncOptions = {},
  ) {
    const api = agent.config.api;
    if (!api) throw new Error("sync needs an API URL (--api or MERIDIAN_API)");
    this.store = new SyncStore(agent.config.stateDir);
    this.channel = (opts.channel ?? ((c) => createTrpcChannel(api, c)))(() => this.credential);
    this.backoffMs = opts.backoff?.initialMs ?? 1_000;
  }

  /**
   * Loads the credential (joining with the token if there is none) and the last desired
   * state from disk. Returns that state so the agent can enforce it before connecting.
   */
  async init(): Promise<NodeDesiredState | undefined> {
    const { config, log } = this.agent;
    await this.store.ensureDir();
    const stored = await this.store.loadCredential();
    if (stored && stored.nodeName === config.nodeName) {
      this.credential = stored.credential;
    } else {
      if (!config.joinToken) {
        throw new ControlPlaneRejectedError(
          `no node credential in ${config.stateDir} and no join token: pass --join-token (or MERIDIAN_JOIN_TOKEN) once`,
        );
      }
      const joined = await this.retry("join", () =>
        this.channel.join({
          token: config.joinToken!,
          nodeName: config.nodeName,
          ...(config.podCIDRs.length ? { podCIDRs: config.podCIDRs } : {}),
          ...(config.nodeAddresses.length ? { addresses: config.nodeAddresses } : {}),
          agentVersion: AGENT_VERSION,
        }),
      );
      this.credential = joined.credential;
      await this.store.saveCredential({
        api: config.api!,
        nodeName: joined.nodeName,
        credential: joined.credential,
        joinedAt: new Date().toISOString(),
      });
      log.info({ node: joined.nodeName, revision: joined.revision }, "joined the control plane");
    }
    const last = await this.store.loadDesired().catch((err: Error) => {
      // Unreadable (truncated, not JSON): enforce nothing from it; the control plane sends a snapshot.
      this.reject(0, "disk", err.message);
      return undefined;
    });
    if (!last) return undefined;
    const checked = checkDesiredState(last.state);
    if (!checked.ok || last.state.contentHash !== last.contentHash) {
      this.reject(
        last.revision,
        "disk",
        checked.ok ? "contentHash: differs from the one recorded beside the state" : checked.reason,
      );
      await this.store.setAsideDesired().catch(() => undefined);
      return undefined;
    }
    this.applied = { revision: last.revision, contentHash: last.contentHash };
    this.current = checked.state;
    return checked.state;
  }

  /** Starts following desired state, heartbeats and endpoint reports. */
  start(): void {
    this.agent.onEndpointsChanged(() => {
      this.endpointsDirty = true;
      this.later(200, () => this.flushEndpoints());
    });
    this.agent.setEndpointReporter(() => {
      this.endpointsDirty = true;
      return this.flushEndpoints(true);
    });
    // The first report comes when the agent has loaded its endpoints (it signals a change
    // then): an empty report before that would delete the node's endpoints upstream.
    this.subscribe();
    const beat = () => {
      if (this.stopped) return;
      this.channel
        .heartbeat(this.applied?.revision)
        .catch((err) => this.agent.log.debug({ err }, "heartbeat failed"));
      this.later(this.opts.heartbeatMs ?? 15_000, beat);
    };
    this.later(this.opts.heartbeatMs ?? 15_000, beat);
    const session = { channel: this.channel, log: this.agent.log };
    for (const f of this.agent.features) {
      const uplink = f.connect?.(session);
      if (uplink) this.uplinks.push(uplink);
    }
    this.startStatusChecks();
  }

  private startStatusChecks(): void {
    const every = this.opts.statusCheckMs ?? 5_000;
    const tick = () => {
      if (this.stopped) return;
      if (this.applied && statusKey(this.agent.components()) !== this.reportedStatus)
        void this.report(this.applied.revision, this.applied.contentHash);
      this.later(every, tick);
    };
    this.later(every, tick);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const u of this.uplinks.splice(0)) u.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.applyChain.catch(() => undefined);
    this.channel.close();
  }

  private subscribe(): void {
    if (this.stopped) return;
    const from = this.applied
      ? { lastRevision: this.applied.revision, lastContentHash: this.applied.contentHash }
      : {};
    this.agent.log.info(from, "subscribing to desired state");
    this.unsubscribe = this.channel.subscribe(from, {
      onEvent: (ev) => {
        this.backoffMs = this.opts.backoff?.initialMs ?? 1_000;
        this.applyChain = this.applyChain.then(() => this.onEvent(ev)).catch(() => undefined);
      },
      onConnection: (connected, err) => {
        this.agent.setSyncConnected(connected, this.applied?.revision);
        if (!connected && err)
          this.agent.log.warn({ err: err.message }, "control plane unreachable; keeping the last state");
        if (connected && this.endpointsDirty) void this.flushEndpoints();
        if (connected) for (const u of this.uplinks) u.connected?.();
      },
      onError: (err) => {
        this.agent.setSyncConnected(false, this.applied?.revision);
        this.unsubscribe?.();
        const delay = this.nextBackoff();
        this.agent.log.warn({ err: err.message, retryInMs: delay }, "desired-state subscription failed");
        this.later(delay, () => this.subscribe());
      },
    });
  }

  private async onEvent(ev: DesiredStateEvent): Promise<void> {
    const { log } = this.agent;
    let next: NodeDesiredState;
    try {
      next = applyDesiredStateEvent(this.current, ev);
    } catch (err) {
      if (!(err instanceof DesiredStateGapError)) throw err;
      // We missed something: keep enforcing what we have and ask for a full snapshot.
      log.warn(
        { err: err.message, revision: ev.revision },
        "desired-state gap; resubscribing for a snapshot",
      );
      this.applied = undefined;
      this.unsubscribe?.();
      this.subscribe();
      return;
    }
    // Checked before any subsystem sees it: a state that fails here is refused whole, and the
    // one in force stays (a subsystem's own failure is handled by the agent, per subsystem).
    if (ev.type !== "unchanged") {
      const checked = checkDesiredState(next);
      if (!checked.ok) {
        this.reject(ev.revision, "control plane", checked.reason);
        await this.report(this.applied?.revision, this.applied?.contentHash);
        return;
      }
      if (checked.ignoredSections.length)
        log.warn(
          { sections: checked.ignoredSections, revision: ev.revision },
          "desired state has sections this agent does not know; they are not enforced",
        );
      next = checked.state;
    }
    if (ev.type === "unchanged") {
      // Same content at a newer revision: nothing to apply, but acknowledge it.
      this.current = next;
      this.applied = { revision: ev.revision, contentHash: ev.contentHash };
      this.agent.setSyncConnected(true, ev.revision);
      await this.report(ev.revision, ev.contentHash);
      return;
    }
    try {
      await this.agent.applyDesiredState(next, ev.revision);
      this.current = next;
      this.applied = { revision: ev.revision, contentHash: ev.contentHash };
      await this.store.saveDesired({
        revision: ev.revision,
        contentHash: ev.contentHash,
        state: next,
        receivedAt: new Date().toISOString(),
      });
      this.agent.setSyncConnected(true, ev.revision);
      this.agent.setRejectedState(undefined);
      log.info({ revision: ev.revision, type: ev.type }, "desired state applied");
    } catch (err) {
      log.error({ err, revision: ev.revision }, "desired state rejected; the previous state stays in force");
    }
    await this.report(this.applied?.revision, this.applied?.contentHash);
  }

  private reject(revision: number, source: RejectedState["source"], reason: string): void {
    this.agent.log.error(
      { revision, source, reason },
      "desired state refused before applying; the previous state stays in force",
    );
    this.agent.setRejectedState({ revision, source, reason, at: new Date().toISOString() });
  }

  private async report(revision: number | undefined, contentHash: string | undefined): Promise<void> {
    try {
      const components = this.agent.components();
      const key = statusKey(components);
      await this.channel.reportStatus({
        ...(revision !== undefined ? { appliedRevision: revision } : {}),
        ...(contentHash ? { contentHash } : {}),
        components,
        summary: { endpoints: this.agent.endpointList().length, agentVersion: AGENT_VERSION },
      });
      // Only once it arrived: a report lost to an outage goes again at the next check.
      this.reportedStatus = key;
    } catch (err) {
      this.agent.log.debug({ err }, "status report failed");
    }
  }

  private flushEndpoints(rethrow = false): Promise<void> {
    const next = this.reportChain.then(() => this.sendEndpoints(rethrow));
    // A report the API never answers must not hold the ones after it forever.
    this.reportChain = Promise.race([next, new Promise((r) => setTimeout(r, 30_000).unref())]).catch(
      () => undefined,
    );
    return next;
  }

  private async sendEndpoints(rethrow: boolean): Promise<void> {
    if (!this.endpointsDirty || this.stopped) return;
    this.endpointsDirty = false;
    const endpoints: ReportedEndpoint[] = this.agent
      .endpointList()
      .filter((e) => e.podName)
      .map((e) => ({
        namespace: e.namespace ?? "default",
        name: e.podName!,
        labels: e.labels,
        ipv4: e.addresses.find((a) => !a.includes(":")),
        ipv6: e.addresses.find((a) => a.includes(":")),
      }));
    try {
      await this.channel.reportEndpoints(endpoints);
    } catch (err) {
      // Retried on the next change or reconnect.
      this.endpointsDirty = true;
      this.agent.log.warn({ err: (err as Error).message }, "endpoint report failed");
      if (rethrow) throw err;
    }
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof ControlPlaneRejectedError || this.stopped) throw err;
        const delay = this.nextBackoff();
        this.agent.log.warn({ err: (err as Error).message, retryInMs: delay }, `${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private nextBackoff(): number {
    const max = this.opts.backoff?.maxMs ?? 30_000;
    const d = Math.min(this.backoffMs, max);
    this.backoffMs = Math.min(this.backoffMs * 2, max);
    return Math.round(d * (0.5 + Math.random() / 2));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }
}

/** What makes a status worth reporting again: everything but uptimes, which change every second. */
function statusKey(components: ComponentStatus[]): string {
  return JSON.stringify(components, (k, v) => (k === "uptimeSeconds" ? undefined : v));
}
