// The routing subsystem: routes to other nodes' PodCIDRs (direct routing on a shared L2), from the
// desired state's `peers`; the configured `peers` are the fallback for a standalone agent or a
// control plane whose state does not carry them. A failure keeps the routes it had and shows in
// the `routing` component; the rest of the desired state still applies.

import { routingStatusSchema } from "@meridian/model";
import { Gauge } from "prom-client";
import type { z } from "zod";
import type { FeatureCli } from "../../cli/command.js";
import type { NodeDesiredState } from "../../sync/channel.js";
import type { AgentFeature, FeatureContext } from "../feature.js";
import { desiredPeerRoutes, type PeerNode, type PeerRoute, reconcilePeerRoutes } from "./node-routes.js";

/** `routing`: error while the last reconcile failed; the message counts the routes in force. No detail. */
export { routingStatusSchema };
export type RoutingStatus = z.infer<typeof routingStatusSchema>;

export class RoutingFeature implements AgentFeature {
  readonly component = "routing";
  readonly sections = ["peers"] as const;
  readonly refusesStateOnFailure = false;
  readonly statusSchema = routingStatusSchema;
  readonly routes = [];
  private readonly gauge = new Gauge({
    name: "meridian_peer_routes",
    help: "Routes to other nodes' PodCIDRs installed by this agent",
    registers: [],
  });
  readonly metrics = [this.gauge];
  private peers: PeerNode[];
  private installed: PeerRoute[] = [];
  private error?: string;

  constructor(private readonly ctx: FeatureContext) {
    this.peers = ctx.config.peers;
  }

  /** The configured peers, before any desired state: a failure is reported, it does not stop the agent. */
  async start(): Promise<void> {
    await this.reconcile(this.peers).catch((err) => {
      this.ctx.metrics.applyErrors.inc({ component: this.component });
      this.ctx.log.error({ err }, "applying peer routes failed; keeping the previous routes");
    });
  }

  async apply(next: NodeDesiredState): Promise<void> {
    // An older control plane's state has no peers: the routes we have stay.
    if (next.peers) await this.reconcile(next.peers);
  }

  private async reconcile(peers: PeerNode[]): Promise<void> {
    try {
      const desired = desiredPeerRoutes(peers.filter((p) => p.name !== this.ctx.config.nodeName));
      const changes = await reconcilePeerRoutes(desired);
      this.peers = peers;
      this.installed = desired;
      this.gauge.set(desired.length);
      this.error = undefined;
      if (changes.added.length || changes.removed.length)
        this.ctx.log.info(changes, "peer routes reconciled");
    } catch (err) {
      this.error = `peer routes: ${(err as Error).message}`;
      throw err;
    }
  }

  status(): RoutingStatus {
    return {
      component: "routing",
      state: this.error ? "error" : "ok",
      message: `${this.installed.length} routes to other nodes' PodCIDRs`,
    };
  }

  lastError(): string | undefined {
    return this.error;
  }

  statusView(): { peerRoutes: PeerRoute[] } {
    return { peerRoutes: this.installed };
  }

  async close(): Promise<void> {
    // The routes stay: stopping the agent must not cut pods off from other nodes.
  }
}

export const routingCli: FeatureCli = {
  commands: [],
  statusRows: (s) => s.peerRoutes.map((r) => [`route ${r.dst}`, `via ${r.via}`]),
};
