// The BGP subsystem: the node's BGP instances from `state.bgp` (with `srv6` for VPN routes and
// the node's addresses for sources and next hops), run by a BgpController built at start. A failed
// apply keeps the last good sessions and shows in the `bgp` component; the rest of the desired
// state still applies. With a control plane it reports the looking glass and fetches MD5 keys.
import type { LookingGlassPeer } from "@meridian/model";
import { type LocalRoute, sendJson } from "../../agent/local-api.js";
import type { NodeDesiredState } from "../../sync/channel.js";
import type { AgentFeature, ControlPlaneSession, FeatureContext, FeatureUplink } from "../feature.js";
import { BgpController, type BgpControllerOptions } from "./controller.js";
import { lookingGlassSnapshot } from "./looking-glass.js";
import { recordGracefulStop, takeGracefulStop } from "./restart.js";
import { BgpRouteReporter } from "./route-reports.js";
import { type BgpComponentStatus, bgpComponentStatus, bgpComponentStatusSchema } from "./status.js";
import { nativeTransport } from "./transport.js";

export class BgpFeature implements AgentFeature {
  readonly component = "bgp";
  readonly sections = ["bgp", "srv6", "node"] as const;
  readonly refusesStateOnFailure = false;
  readonly statusSchema = bgpComponentStatusSchema;
  readonly metrics = [];
  readonly routes: LocalRoute[];
  /** Built in start(). */
  controller?: BgpController;
  /** BGP has applied a desired state: before that an empty looking glass would mean nothing. */
  private applied = false;
  private readonly routeListeners = new Set<() => void>();
  /** The control plane's `agent.bgpPassword`, once connected. */
  private password?: (ref: string) => Promise<string | undefined>;

  /** `opts`: controller options for tests (e.g. a listen port); by default the native transport and :179. */
  constructor(
    private readonly ctx: FeatureContext,
    private readonly opts: Partial<BgpControllerOptions> = {},
  ) {
    const notRunning = () => ({ msg: "BGP is not running in this agent" });
    this.routes = [
      {
        method: "GET",
        path: "/v1/bgp/peers",
        handle: ({ res }) =>
          this.controller ? sendJson(res, 200, this.controller.status()) : sendJson(res, 404, notRunning()),
      },
      {
        method: "GET",
        path: /^\/v1\/bgp\/routes\/(received|advertised)\/([^/]+)$/,
        handle: ({ res, url, params }) => {
          const bgp = this.controller;
          if (!bgp) return sendJson(res, 404, notRunning());
          const [kind, rawPeer] = params;
          const peer = decodeURIComponent(rawPeer ?? "");
          const family = url.searchParams.get("family") || undefined;
          // By name, address or "instance/peer" (two instances' peers are told apart by the instance).
          const known = bgp
            .status()
            .peers.some((x) =>
              [x.address, x.name, `${x.instance}/${x.name}`, `${x.instance}/${x.address}`].includes(peer),
            );
          if (!known) return sendJson(res, 404, { msg: `no BGP peer "${peer}" on this node` });
          try {
            return sendJson(
              res,
              200,
              kind === "received" ? bgp.receivedRoutes(peer, family) : bgp.advertisedRoutes(peer, family),
            );
          } catch (err) {
            return sendJson(res, 400, { msg: (err as Error).message });
          }
        },
      },
    ];
  }

  async start(): Promise<void> {
    const { log, config } = this.ctx;
    let transport = this.opts.transport;
    if (!transport) {
      try {
        transport = await nativeTransport();
      } catch (err) {
        // Sessions still work; TCP-MD5 and multihop TTL do not.
        log.warn({ err: (err as Error).message }, "native addon unavailable: BGP runs without TCP-MD5/TTL");
      }
    }
    const restarting = await takeGracefulStop(config.stateDir);
    if (restarting) log.info("BGP: graceful restart after a graceful stop (peers keep our routes)");
    this.controller = new BgpController({
      ...this.opts,
      ...(transport ? { transport } : {}),
      restarting,
      resolvePassword: this.opts.resolvePassword ?? (async (ref) => this.password?.(ref)),
    });
    this.controller.onRoutesChanged(() => this.routesChanged());
  }

  async apply(next: NodeDesiredState): Promise<void> {
    if (!this.controller) return;
    try {
      await this.controller.apply(next.bgp ?? { instances: [] }, {
        nodeAddresses: next.node.addresses,
        ...(next.srv6 ? { srv6: next.srv6 } : {}),
      });
    } finally {
      if (!this.applied) {
        this.applied = true;
        this.routesChanged();
      }
    }
  }

  status(): BgpComponentStatus | undefined {
    return this.controller ? bgpComponentStatus(this.controller.status()) : undefined;
  }

  lastError(): string | undefined {
    const err = this.controller?.status().lastError;
    return err ? `bgp: ${err}` : undefined;
  }

  statusView(): Record<string, never> {
    return {};
  }

  /** Each peer's received and advertised routes, bounded per table; undefined until BGP applied a state. */
  lookingGlass(): LookingGlassPeer[] | undefined {
    return this.controller && this.applied ? lookingGlassSnapshot(this.controller) : undefined;
  }

  /** The looking glass to the control plane when routes change; MD5 keys from it by `passwordRef`. */
  connect({ channel, log }: ControlPlaneSession): FeatureUplink {
    if (channel.bgpPassword) this.password = (ref) => channel.bgpPassword!(ref);
    const send = channel.reportBgpRoutes?.bind(channel);
    if (!send) return { stop() {} };
    const reporter = new BgpRouteReporter({ snapshot: () => this.lookingGlass(), send, log });
    const changed = () => reporter.changed();
    this.routeListeners.add(changed);
    reporter.resync();
    return {
      // Whatever the control plane holds of our looking glass, it gets all of it again.
      connected: () => reporter.resync(),
      stop: () => {
        this.routeListeners.delete(changed);
        reporter.stop();
      },
    };
  }

  /** BGP stops gracefully: peers keep our routes until the next agent's End-of-RIB. */
  async close(): Promise<void> {
    if (!this.controller) return;
    const running = this.controller.status().running;
    await this.controller
      .stop({ graceful: true })
      .catch((err) => this.ctx.log.warn({ err }, "BGP stop failed"));
    if (running) await recordGracefulStop(this.ctx.config.stateDir).catch(() => undefined);
  }

  private routesChanged(): void {
    for (const l of this.routeListeners) l();
  }
}
