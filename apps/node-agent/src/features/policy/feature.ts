// The policy subsystem: the control plane's endpoints, ipcache and per-endpoint policy in the
// datapath's maps (component "datapath"). It refuses a desired state it cannot enforce as a
// whole, so the agent never reports a revision whose policy is not in the kernel. Its routes:
// an endpoint's policy as desired and as the maps hold it, and the flow events.
import { datapathStatusSchema } from "@meridian/model";
import { Counter, type Metric } from "prom-client";
import type { z } from "zod";
import type { AgentEndpoint } from "../../agent/endpoints.js";
import { type LocalRoute, sendJson } from "../../agent/local-api.js";
import type { IpcacheClaim, IpcacheOwner, SyncDiff } from "../../datapath/index.js";
import { REASON } from "../../datapath/layout.js";
import { FlowAggregator } from "../../status/flow-summary.js";
import type { NodeDesiredState } from "../../sync/channel.js";
import {
  type AgentFeature,
  type ControlPlaneSession,
  type FeatureContext,
  type FeatureUplink,
  reportEvery,
} from "../feature.js";
import type { FlowEvent, PolicyDatapath } from "./datapath.js";
import { type FlowFilter, matchesFlow, parseFlowFilter } from "./flow-filter.js";
import type { DesiredEndpoint } from "./translate.js";

/** Pod-side attach points as policy directions; uplink points keep their own name. */
const POINT_DIRECTION: Record<string, string> = { from_pod: "egress", to_pod: "ingress" };

/**
 * `datapath`: ok while enforcing (message: the datapath's name), degraded when unenforced (the
 * reason), error after a refused desired state (`revision N: why`). No detail.
 */
export { datapathStatusSchema };
export type DatapathStatus = z.infer<typeof datapathStatusSchema>;

export class PolicyFeature implements AgentFeature {
  readonly component = "datapath";
  readonly sections = ["endpoints", "ipcache"] as const;
  readonly refusesStateOnFailure = true;
  readonly statusSchema = datapathStatusSchema;
  readonly metrics: Metric[];
  readonly routes: LocalRoute[];
  private failed?: { revision: number; message: string };

  constructor(
    private readonly ctx: FeatureContext,
    readonly datapath: PolicyDatapath,
  ) {
    // Read at scrape time, straight from the kernel's per-CPU counters.
    const drops = new Counter({
      name: "meridian_datapath_drops_total",
      help: "Packets the eBPF datapath dropped, by reason and policy direction (egress: from pods, ingress: to pods)",
      labelNames: ["reason", "direction"] as const,
      registers: [],
      collect: () => {
        drops.reset();
        forwarded.reset();
        redirected.reset();
        eventsLost.reset();
        eventsSuppressed.reset();
        for (const c of this.datapath.counters()) {
          const direction = POINT_DIRECTION[c.point] ?? c.point;
          const n = Number(c.packets);
          // Slots past the drop reasons count events, or redirects, not drops (bpf/lib/types.h).
          if (c.reasonCode === 0) forwarded.inc({ direction }, n);
          else if (c.reasonCode === REASON.REDIRECTED) redirected.inc({ direction }, n);
          else if (c.reasonCode === REASON.EVENTS_LOST) eventsLost.inc({ direction }, n);
          else if (c.reasonCode === REASON.EVENTS_SUPPRESSED) eventsSuppressed.inc({ direction }, n);
          else drops.inc({ reason: c.reason, direction }, n);
        }
      },
    });
    const forwarded = new Counter({
      name: "meridian_datapath_forwarded_total",
      help: "Packets the eBPF datapath forwarded, by policy direction",
      labelNames: ["direction"] as const,
      registers: [],
    });
    const redirected = new Counter({
      name: "meridian_datapath_redirected_total",
      help: "Packets a feature's hook redirected (DNS proxy, egress gateway, SRv6), by policy direction",
      labelNames: ["direction"] as const,
      registers: [],
    });
    const eventsLost = new Counter({
      name: "meridian_flow_events_lost_total",
      help: "Flow events lost because the ring buffer to user space was full (the packets were not)",
      labelNames: ["direction"] as const,
      registers: [],
    });
    const eventsSuppressed = new Counter({
      name: "meridian_flow_events_suppressed_total",
      help: "Drop events the datapath's per-reason rate limit held back (counted, never silent)",
      labelNames: ["direction"] as const,
      registers: [],
    });
    this.metrics = [drops, forwarded, redirected, eventsLost, eventsSuppressed];
    this.routes = [
      {
        method: "GET",
        path: /^\/v1\/endpoints\/(.+)\/policy$/,
        handle: async ({ res, params }) => {
          const ref = decodeURIComponent(params[0] ?? "");
          const ep = this.ctx.endpoint(ref);
          if (!ep) return sendJson(res, 404, { msg: `no endpoint matches "${ref}" on this node` });
          return sendJson(res, 200, {
            endpoint: ep,
            desired: this.desiredFor(ep) ?? null,
            datapath: await this.datapath.policyFor(ep),
          });
        },
      },
      {
        method: "GET",
        path: "/v1/flows",
        handle: ({ req, res, url }) => {
          let filter: FlowFilter;
          try {
            filter = parseFlowFilter((k) => url.searchParams.get(k));
          } catch (err) {
            return sendJson(res, 400, { msg: (err as Error).message });
          }
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          const onFlow = (f: FlowEvent) => {
            if (matchesFlow(f, filter)) res.write(`${JSON.stringify(f)}\n`);
          };
          // Without follow: the recent history the datapath keeps, then the end.
          if (url.searchParams.get("follow") !== "1") {
            for (const f of this.datapath.recentFlows()) onFlow(f);
            res.end();
            return;
          }
          this.datapath.flows.on("flow", onFlow);
          req.on("close", () => this.datapath.flows.off("flow", onFlow));
        },
      },
    ];
  }

  async start(): Promise<void> {
    if (!this.datapath.enforcing)
      this.ctx.log.warn({ datapath: this.datapath.name }, "policy is NOT enforced on this node");
  }

  async apply(next: NodeDesiredState): Promise<void> {
    try {
      await this.datapath.applyDesiredState(next);
      this.failed = undefined;
    } catch (err) {
      this.failed = { revision: next.revision, message: (err as Error).message };
      throw err;
    }
  }

  status(): DatapathStatus {
    const error = this.lastError();
    if (error) return { component: "datapath", state: "error", message: error };
    return {
      component: "datapath",
      state: this.datapath.enforcing ? "ok" : "degraded",
      message: this.datapath.name,
    };
  }

  lastError(): string | undefined {
    return this.failed ? `revision ${this.failed.revision}: ${this.failed.message}` : undefined;
  }

  statusView(): { datapath: { name: string; enforcing: boolean } } {
    return { datapath: { name: this.datapath.name, enforcing: this.datapath.enforcing } };
  }

  onEndpointAdded(ep: AgentEndpoint): Promise<void> {
    return this.datapath.onEndpointAdded(ep);
  }

  onEndpointRemoved(ep: AgentEndpoint): Promise<void> {
    return this.datapath.onEndpointRemoved(ep);
  }

  /**
   * Where the ipcache's other owners (the DNS proxy, Kubernetes) put their claims: the kernel holds
   * the union of every owner's, by precedence (datapath/ipcache-owners.ts).
   */
  claimIpcache(owner: Exclude<IpcacheOwner, "control-plane">, claims: IpcacheClaim[]): Promise<SyncDiff> {
    return this.datapath.claimIpcache(owner, claims);
  }

  /** Claims an owner restored after a restart, already in the pinned map: kept by the next sync. */
  adoptIpcacheClaims(owner: Exclude<IpcacheOwner, "control-plane">, claims: IpcacheClaim[]): void {
    this.datapath.adoptIpcacheClaims(owner, claims);
  }

  /** Flow summaries to the control plane every `flowReportIntervalMs`, best effort. */
  connect({ channel, log }: ControlPlaneSession): FeatureUplink {
    const send = channel.reportFlows?.bind(channel);
    if (!send) return { stop() {} };
    const flows = new FlowAggregator();
    const onFlow = (f: FlowEvent) => flows.add(f);
    this.datapath.flows.on("flow", onFlow);
    const stop = reportEvery({
      intervalMs: this.ctx.config.flowReportIntervalMs,
      log,
      what: "flow summaries",
      drain: () => {
        const overflow = flows.overflow;
        return { rows: flows.drain(), overflow };
      },
      send,
    });
    return {
      stop: () => {
        stop();
        this.datapath.flows.off("flow", onFlow);
      },
    };
  }

  close(): Promise<void> {
    return this.datapath.close();
  }

  /** The control plane's view of an endpoint (its compiled policy), if it has one. */
  private desiredFor(ep: AgentEndpoint): DesiredEndpoint | undefined {
    const state = this.ctx.desiredState();
    if (!state) return undefined;
    return state.endpoints.find(
      (d) =>
        (d.namespace === (ep.namespace ?? "default") && d.name === ep.podName) ||
        (d.ipv4 !== undefined && ep.addresses.includes(d.ipv4)) ||
        (d.ipv6 !== undefined && ep.addresses.includes(d.ipv6)),
    );
  }
}
