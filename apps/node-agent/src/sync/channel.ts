// What the agent needs from the control plane, as an interface: the sync loop is written
// against this, and trpc-channel.ts implements it over the API's `agent.*` procedures
// (packages/api/src/agent/router.ts).

import type { DesiredStateEvent } from "@meridian/api/agent/events";
import type { ReportBgpRoutesInput } from "@meridian/api/bgp/looking-glass-schemas";
import type { NodeDesiredState } from "@meridian/api/compiler/types";

/** The identity numbers the control plane reserves (reserved:init, reserved:world, …): defined once, there. */
export { ReservedIdentity } from "@meridian/api/compiler/identity";
export type { NodeDesiredState };

import type { FlowSummary } from "../status/flow-summary.js";

export interface JoinRequest {
  token: string;
  nodeName: string;
  podCIDRs?: string[];
  addresses?: string[];
  agentVersion?: string;
}
export interface JoinResult {
  nodeName: string;
  credential: string;
  revision: number;
}

/** snapshot / delta (whole top-level sections) / unchanged: the API's own definition. */
export type { DesiredStateEvent } from "@meridian/api/agent/events";

export interface SubscriptionHandlers {
  onEvent(event: DesiredStateEvent): void;
  /** The subscription failed for good (e.g. credential rejected); the loop resubscribes. */
  onError(err: Error): void;
  /** Connection state as the transport sees it. */
  onConnection(connected: boolean, err?: Error): void;
}

export interface ComponentStatus {
  component: string;
  state: "ok" | "degraded" | "error" | "unknown";
  message: string;
  detail?: Record<string, unknown>;
}

export interface ReportedEndpoint {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ipv4?: string;
  ipv6?: string;
}

export interface ControlPlaneChannel {
  join(req: JoinRequest): Promise<JoinResult>;
  subscribe(
    from: { lastRevision?: number; lastContentHash?: string },
    handlers: SubscriptionHandlers,
  ): () => void;
  heartbeat(appliedRevision: number | undefined): Promise<void>;
  reportStatus(report: {
    appliedRevision?: number;
    contentHash?: string;
    components: ComponentStatus[];
    summary?: Record<string, unknown>;
  }): Promise<void>;
  /** The node's complete endpoint inventory; the API allocates identities from it. */
  reportEndpoints(endpoints: ReportedEndpoint[]): Promise<void>;
  /** Flow summaries (`agent.reportFlows`); optional: a control plane may not take them. */
  reportFlows?(flows: FlowSummary[]): Promise<void>;
  /**
   * The BGP looking glass (`agent.reportBgpRoutes`): the listed peers' bounded route tables, and
   * every peer the node runs so the others' are dropped. Optional like `reportFlows`.
   */
  reportBgpRoutes?(report: ReportBgpRoutesInput): Promise<void>;
  /** A BGP peer's MD5 key by the desired state's `passwordRef` (`agent.bgpPassword`). */
  bgpPassword?(ref: string): Promise<string>;
  close(): void;
}

/** The control plane refused us for good (bad join token, revoked credential). */
export class ControlPlaneRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlPlaneRejectedError";
  }
}
