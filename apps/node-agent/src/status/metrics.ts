// The agent's Prometheus metrics. One registry per agent instance (not the global one) so
// several agents can live in one test process.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DatapathCounter } from "../features/policy/datapath.js";

/** Pod-side attach points as policy directions; uplink points keep their own name. */
const POINT_DIRECTION: Record<string, string> = { from_pod: "egress", to_pod: "ingress" };

export class AgentMetrics {
  readonly registry = new Registry();
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
  readonly lastAppliedRevision = new Gauge({
    name: "meridian_last_applied_revision",
    help: "Revision of the last desired state applied in full (0: none yet)",
    registers: [this.registry],
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
  readonly peerRoutes = new Gauge({
    name: "meridian_peer_routes",
    help: "Routes to other nodes' PodCIDRs installed by this agent",
    registers: [this.registry],
  });

  /** Where the datapath's counters come from; read at scrape time, straight from the kernel. */
  private datapathCounters?: () => DatapathCounter[];
  readonly datapathDrops = new Counter({
    name: "meridian_datapath_drops_total",
    help: "Packets the eBPF datapath dropped, by reason and policy direction (egress: from pods, ingress: to pods)",
    labelNames: ["reason", "direction"] as const,
    registers: [this.registry],
    collect: () => this.collectDatapath(),
  });
  readonly datapathForwarded = new Counter({
    name: "meridian_datapath_forwarded_total",
    help: "Packets the eBPF datapath forwarded, by policy direction",
    labelNames: ["direction"] as const,
    registers: [this.registry],
  });

  watchDatapath(read: () => DatapathCounter[]): void {
    this.datapathCounters = read;
  }

  private collectDatapath(): void {
    if (!this.datapathCounters) return;
    this.datapathDrops.reset();
    this.datapathForwarded.reset();
    for (const c of this.datapathCounters()) {
      const direction = POINT_DIRECTION[c.point] ?? c.point;
      if (c.reasonCode === 0) this.datapathForwarded.inc({ direction }, Number(c.packets));
      else this.datapathDrops.inc({ reason: c.reason, direction }, Number(c.packets));
    }
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "meridian_agent_" });
    this.lastAppliedRevision.set(0);
    this.syncConnected.set(0);
  }
}
