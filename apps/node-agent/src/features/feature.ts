// The one interface every agent subsystem implements (src/features/<name>/), and what the daemon
// hands it. The daemon lists the subsystems (features/registry.ts) and loops over them: it does not
// know what any one of them does. Today's three: policy (the eBPF datapath: endpoints, ipcache,
// policy maps), routing (routes to other nodes' PodCIDRs) and bgp (the node's BGP speakers).

import { componentStatusOf } from "@meridian/model";
import type { Logger } from "pino";
import type { Metric } from "prom-client";
import type { z } from "zod";
import type { AgentEndpoint } from "../agent/endpoints.js";
import type { LocalRoute } from "../agent/local-api.js";
import type { AgentConfig } from "../config.js";
import type { AgentMetrics } from "../status/metrics.js";
import type { ComponentStatus, ControlPlaneChannel, NodeDesiredState } from "../sync/channel.js";

/** A top-level section of the desired state (the unit a delta replaces). */
export type DesiredSection = Exclude<keyof NodeDesiredState, "revision" | "contentHash">;

/**
 * The schema of one component's status as the agent reports it, with its name fixed and its detail
 * typed. A subsystem's schema lives in the model (`packages/model/src/agent/status-schemas.ts`), listed
 * in its COMPONENT_DETAIL_SCHEMAS, so that the API checks the reports and the console reads them
 * with the same schema.
 */
export const componentStatusSchema = componentStatusOf;
export { componentStateSchema } from "@meridian/model";

/** What a subsystem gets from the agent when it is created. */
export interface FeatureContext {
  readonly config: AgentConfig;
  readonly log: Logger;
  /** The agent's own metrics (apply errors by component); a subsystem's own go in `metrics`. */
  readonly metrics: AgentMetrics;
  /** The endpoints this agent manages (CNI). */
  endpoint(ref: string): AgentEndpoint | undefined;
  /** The desired state the agent holds now (applied, or loaded before start), if any. */
  desiredState(): NodeDesiredState | undefined;
}

/** What a subsystem gets when the agent has a control plane (the sync loop). */
export interface ControlPlaneSession {
  readonly channel: ControlPlaneChannel;
  readonly log: Logger;
}

/** A subsystem's own reports to the control plane, started by the sync loop. */
export interface FeatureUplink {
  /** The channel (re)connected: whatever the control plane holds of these reports is sent again. */
  connected?(): void;
  stop(): void;
}

/**
 * A subsystem's periodic report to the control plane: every `intervalMs` it takes what `drain`
 * gathered and sends it, best effort (a report that fails is dropped, not retried; what did not fit
 * in one report is counted by `drain` and logged). Returns the uplink's `stop`.
 */
export function reportEvery<T>(opts: {
  intervalMs: number;
  log: Logger;
  /** What is sent, for the logs ("flow summaries", "dns: query events"). */
  what: string;
  drain: () => { rows: T[]; overflow: number };
  send: (rows: T[]) => Promise<unknown>;
}): () => void {
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const { rows, overflow } = opts.drain();
    if (overflow) opts.log.warn({ overflow }, `${opts.what} over the per-report limit were dropped`);
    if (rows.length)
      opts
        .send(rows)
        .catch((err) => opts.log.debug({ err, rows: rows.length }, `${opts.what} report failed; dropped`));
    timer = setTimeout(tick, opts.intervalMs);
    timer.unref();
  };
  timer = setTimeout(tick, opts.intervalMs);
  timer.unref();
  return () => clearTimeout(timer);
}

export interface AgentFeature {
  /** Its name in status reports, the `component` label of metrics, and logs. */
  readonly component: string;
  /** The sections of the desired state its `apply` reads. */
  readonly sections: readonly DesiredSection[];
  /**
   * True: a failed apply refuses the whole desired state (the subsystems after it do not apply
   * it, the agent keeps and reports the previous revision). False: the subsystem keeps its own
   * last good state and reports the error; the rest of the desired state still applies.
   */
  readonly refusesStateOnFailure: boolean;
  /** The schema of what `status()` returns. */
  readonly statusSchema: z.ZodType<ComponentStatus>;
  /** Its Prometheus metrics, created unregistered; the agent registers them in its registry. */
  readonly metrics: readonly Metric[];
  /** Its local API routes (unix socket only). */
  readonly routes: readonly LocalRoute[];
  /** Once, when the agent starts, before any desired state is applied. */
  start(): Promise<void>;
  /**
   * Makes what it runs equal to `next`. Idempotent (the same state twice changes nothing) and all
   * or nothing: on failure it throws, naming what failed, and keeps the last good state in force.
   * `previous` is the last state the agent applied (undefined at first); a subsystem may use it to
   * skip work, but must not assume the kernel still matches it.
   */
  apply(next: NodeDesiredState, previous: NodeDesiredState | undefined): Promise<void>;
  /** Its component status now; undefined while it has nothing to report (not started). */
  status(): ComponentStatus | undefined;
  /** Why its last apply failed, as `meridian-agent status` shows it; undefined after a success. */
  lastError(): string | undefined;
  /** Its fields of GET /v1/status (`meridian-agent status`). */
  statusView(): Record<string, unknown>;
  /** CNI ADD and agent start (adoption): idempotent; a throw fails the ADD and rolls it back. */
  onEndpointAdded?(ep: AgentEndpoint): Promise<void>;
  /** Agent start: every endpoint the last agent plumbed has been handed over (onEndpointAdded). */
  onEndpointsLoaded?(): Promise<void>;
  /** CNI DEL: must succeed for an endpoint it never saw. */
  onEndpointRemoved?(ep: AgentEndpoint): Promise<void>;
  /** With a control plane: starts its own reports over the channel (flows, the looking glass). */
  connect?(session: ControlPlaneSession): FeatureUplink;
  /**
   * Stops what it runs in this process; kernel state stays (stopping must not disturb traffic).
   * `forGood` (`meridian-agent stop`): no agent follows, so helpers it left running stop too.
   */
  close(opts?: { forGood?: boolean }): Promise<void>;
}
