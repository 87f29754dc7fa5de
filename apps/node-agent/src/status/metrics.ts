// The agent's own Prometheus metrics; each subsystem brings its own (AgentFeature.metrics) and the
// daemon registers them here. One registry per agent instance (not the global one) so several
// agents can live in one test process.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class AgentMetrics {
  readonly registry = new Registry();
  /**
   * The revision in force, read at every scrape (the agent sets it): the same number `status`
   * and the control plane show, whether or not the revision changed the datapath.
   */
  revisionInForce: () => number = () => 0;
  readonly endpoints = new Gauge({
    name: "meridian_endpoints",
    help: "Endpoints (pod interfaces) managed by this agent",
    registers: [this.registry],
  });
  readonly applyErrors = new Counter({
    name: "meridian_apply_errors_total",
    help: "Failed attempts to apply state to the kernel, by component",
    labelNames: ["component"] as const,
    registers: [this.registry],
  });
  readonly lastAppliedRevision: Gauge = new Gauge({
    name: "meridian_last_applied_revision",
    help: "Revision of the desired state in force, acknowledged to the control plane (0: none yet)",
    registers: [this.registry],
    collect: (): void => this.lastAppliedRevision.set(this.revisionInForce()),
  });
  readonly syncConnected = new Gauge({
    name: "meridian_sync_connected",
    help: "1 while the control-plane subscription is connected",
    registers: [this.registry],
  });
  readonly cniRequests = new Counter({
    name: "meridian_cni_requests_total",
    help: "CNI requests handled, by command and result",
    labelNames: ["command", "result"] as const,
    registers: [this.registry],
  });
  readonly cniDuration = new Histogram({
    name: "meridian_cni_request_duration_seconds",
    help: "Time to handle a CNI request, by command",
    labelNames: ["command"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "meridian_agent_" });
    this.syncConnected.set(0);
  }
}
