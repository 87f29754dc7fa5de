// What the agent needs from the control plane, as an interface: the sync loop is written
// against this, and trpc-channel.ts implements it over the API's `agent.*` procedures with the
// API's typed client (packages/api/src/agent/router.ts). The shapes are @meridian/model's schemas.

import type {
  ComponentState,
  DesiredStateEvent,
  dnsEventSchema,
  joinInput,
  joinOutput,
  NodeDesiredState,
  ReportBgpRoutesInput,
  reportEndpointsInput,
  reportStatusInput,
} from "@meridian/model";
import type { z } from "zod";

/** The identity numbers the control plane reserves (reserved:init, reserved:world, …): defined once, there. */
export { ReservedIdentity } from "@meridian/model";
export type { NodeDesiredState };

import type { FlowSummary } from "../status/flow-summary.js";

/** The API's input and output shapes (packages/model/src/agent/schemas.ts): one contract. */
export type JoinRequest = Omit<z.input<typeof joinInput>, "labels">;
export type JoinResult = z.output<typeof joinOutput>;
export type StatusReport = Omit<z.input<typeof reportStatusInput>, "nodeName" | "agentVersion">;
/** One DNS proxy query event as `agent.reportDnsEvents` takes it. */
export type DnsEventReport = z.input<typeof dnsEventSchema>;

/** snapshot / delta (whole top-level sections) / unchanged: the API's own definition. */
export type { DesiredStateEvent } from "@meridian/model";

export interface SubscriptionHandlers {
  onEvent(event: DesiredStateEvent): void;
  /** The subscription failed for good (e.g. credential rejected); the loop resubscribes. */
  onError(err: Error): void;
  /** Connection state as the transport sees it. */
  onConnection(connected: boolean, err?: Error): void;
}

/** One component's status as reported; a known component's detail is checked by the API against its schema. */
export type ComponentStatus = {
  component: string;
  state: ComponentState;
  message: string;
  detail?: Record<string, unknown>;
};

export type ReportedEndpoint = z.input<typeof reportEndpointsInput>["endpoints"][number];

export interface ControlPlaneChannel {
  join(req: JoinRequest): Promise<JoinResult>;
  subscribe(
    from: { lastRevision?: number; lastContentHash?: string },
    handlers: SubscriptionHandlers,
  ): () => void;
  heartbeat(appliedRevision: number | undefined): Promise<void>;
  reportStatus(report: StatusReport & { components: ComponentStatus[] }): Promise<void>;
  /** The node's complete endpoint inventory; the API allocates identities from it. */
  reportEndpoints(endpoints: ReportedEndpoint[]): Promise<void>;
  /** Flow summaries (`agent.reportFlows`); optional: a control plane may not take them. */
  reportFlows?(flows: FlowSummary[]): Promise<void>;
  /** DNS proxy query events (`agent.reportDnsEvents`); optional like `reportFlows`. */
  reportDnsEvents?(events: DnsEventReport[]): Promise<void>;
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
