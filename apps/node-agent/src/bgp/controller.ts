// Drives one BgpSpeaker from the node's desired state. Reconcile, never replay: every apply builds a
// plan and only the difference to the running speaker is applied, so the same state twice changes
// nothing and an advertisement edit never touches a session.
import type { BgpPeerState } from "@meridian/api/compiler/types";
import { BgpSpeaker, type Family, type OriginateRoute, type RouteView, type Transport } from "@meridian/bgp";
import {
  type AdvertisedRoute,
  type BgpPlan,
  type DesiredBgp,
  type DesiredSrv6,
  type PeerLocalPolicy,
  type PlannedPeer,
  parseFamily,
  planBgp,
  sessionResets,
} from "./plan.js";
import { type BgpStatus, buildStatus } from "./status.js";

export interface BgpControllerOptions {
  /** Socket hooks for TCP-MD5 and TTL; the agent passes `await nativeTransport()`. */
  transport?: Transport;
  /** Default: port 179 on every address. */
  listen?: { port?: number; host?: string } | false;
  /** Fetches an MD5 key by the desired state's `passwordRef` (the agent: the `bgpPassword` query). */
  resolvePassword?: (ref: string, peer: BgpPeerState) => Promise<string | undefined>;
  /** Agent-local import policy and kernel-install flag per peer (the API has no fields for them yet). */
  peerPolicy?: (peer: BgpPeerState) => PeerLocalPolicy;
  /**
   * This process replaces an agent that stopped with `stop({ graceful: true })`: OPENs carry the
   * graceful-restart R bit so peers keep our routes until our End-of-RIB. Fixed for the
   * controller's lifetime because a change to it would reset every session.
   */
  restarting?: boolean;
}

export interface ApplyContext {
  /** The node's interface addresses ("10.0.0.5/24"): session source and next hops. */
  nodeAddresses?: string[];
  /** For VRF routes: SID behaviour and locator structure. */
  srv6?: DesiredSrv6;
}

/** A route as the looking glass shows it, with the family in the control plane's naming. */
export interface LookingGlassRoute extends RouteView {
  family: string;
}

/** A received VPN route, grouped by RD and route target for the SRv6 import. */
export interface VpnRoute {
  peer: string;
  family: "vpnv4" | "vpnv6";
  rd: string;
  routeTargets: string[];
  prefix: string;
  nextHops: string[];
  labels: number[];
  sid?: string;
  stale: boolean;
}

const EMPTY: DesiredBgp = { instances: [] };

export class BgpController {
  private speaker?: BgpSpeaker;
  private speakerId?: string;
  private desired: DesiredBgp = EMPTY;
  private context: ApplyContext = {};
  private sources = new Map<string, AdvertisedRoute[]>();
  private plan?: BgpPlan;
  private originated = new Map<string, OriginateRoute>();
  /** Flaps of sessions the controller re-created (config resets), so the counter never goes back. */
  private carriedFlaps = new Map<string, number>();
  private lastError?: string;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: BgpControllerOptions = {}) {}

  /** Applies the BGP part of the desired state. Resolves when the speaker holds the new plan. */
  apply(desired: DesiredBgp, context: ApplyContext = {}): Promise<void> {
    return this.serial(async () => {
      this.desired = desired;
      this.context = context;
      await this.reconcile();
    });
  }

  /**
   * The one advertisement mechanism for agent features: replaces everything `source` advertises
   * (egress-gateway IPs, SRv6 VRF routes…); an empty list withdraws them all.
   */
  setRoutes(source: string, routes: AdvertisedRoute[]): Promise<void> {
    if (source === "control-plane")
      throw new Error('source "control-plane" is the desired state; use apply()');
    return this.serial(async () => {
      if (routes.length === 0) this.sources.delete(source);
      else this.sources.set(source, routes);
      await this.reconcile();
    });
  }

  /** Stops the speaker. `graceful` closes sessions without NOTIFICATION so peers keep our routes (RFC 4724). */
  stop(opts: { graceful?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      this.stopped = true;
      await this.speaker?.stop(opts);
      this.speaker = undefined;
    });
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) throw new Error("BGP controller is stopped");
    try {
      const passwords = await this.resolvePasswords();
      const plan = planBgp(this.desired, this.sources, {
        ...this.context,
        restarting: this.options.restarting,
        passwords,
        peerPolicy: this.options.peerPolicy,
      });
      await this.applyPlan(plan);
      this.plan = plan;
      this.lastError = undefined;
    } catch (err) {
      // Keep the last good state running; the error is reported in status.
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  private async resolvePasswords(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const resolve = this.options.resolvePassword;
    for (const inst of this.desired.instances.slice(0, 1)) {
      for (const p of inst.peers) {
        if (!p.hasPassword || !p.passwordRef || !resolve) continue;
        const pw = await resolve(p.passwordRef, p);
        if (pw !== undefined) out.set(p.passwordRef, pw);
      }
    }
    return out;
  }

  private async applyPlan(plan: BgpPlan): Promise<void> {
    const id = plan.speaker ? `${plan.speaker.asn}|${plan.speaker.routerId}` : undefined;
    if (this.speaker && this.speakerId !== id) {
      // Our ASN or router ID changed (or BGP was removed from this node): every session must reset.
      for (const st of this.speaker.status())
        this.carry(st.address, st.flaps + (st.state === "Established" ? 1 : 0));
      await this.speaker.stop();
      this.speaker = undefined;
      this.originated = new Map();
    }
    if (!plan.speaker) {
      this.speakerId = undefined;
      return;
    }
    let speaker = this.speaker;
    if (!speaker) {
      speaker = new BgpSpeaker({
        asn: plan.speaker.asn,
        routerId: plan.speaker.routerId,
        ...(this.options.listen !== undefined ? { listen: this.options.listen } : {}),
        ...(this.options.transport ? { transport: this.options.transport } : {}),
      });
      await speaker.start();
      this.speaker = speaker;
      this.speakerId = id;
    }
    // Originate before touching peers: a new session (or a graceful restart's End-of-RIB) must
    // never go out before the routes it should carry exist.
    for (const [key, route] of plan.originate) {
      const had = this.originated.get(key);
      if (!had || JSON.stringify(had) !== JSON.stringify(route)) speaker.originate(route);
    }
    const peers = plan.peers.filter((p) => p.problems.length === 0);
    const before = new Map((this.plan?.peers ?? []).map((p) => [p.config.address, p.config]));
    for (const p of peers) {
      const old = before.get(p.config.address);
      const st = speaker.peerStatus(p.config.address);
      if (old && st && sessionResets(old, p.config))
        this.carry(p.config.address, st.flaps + (st.state === "Established" ? 1 : 0));
    }
    speaker.setPeers(peers.map((p) => p.config));
    for (const [key, route] of this.originated) {
      if (!plan.originate.has(key))
        speaker.withdraw({ family: route.family, prefix: route.prefix, rd: route.rd });
    }
    this.originated = new Map(plan.originate);
  }

  private carry(address: string, n: number): void {
    this.carriedFlaps.set(address, (this.carriedFlaps.get(address) ?? 0) + n);
  }

  // ---- status and looking glass ----

  /** Per-peer status as plain JSON (see status.ts). */
  status(): BgpStatus {
    return buildStatus({
      plan: this.plan,
      speakerStatus: this.speaker?.status() ?? [],
      carriedFlaps: this.carriedFlaps,
      lastError: this.lastError,
      running: !!this.speaker,
    });
  }

  private peerAddress(peer: string): string | undefined {
    const p = this.plan?.peers.find((x) => x.name === peer || x.config.address === peer);
    return p?.config.address;
  }

  private planned(peer: string): PlannedPeer | undefined {
    return this.plan?.peers.find((x) => x.name === peer || x.config.address === peer);
  }

  private routes(kind: "received" | "advertised", peer: string, family?: string): LookingGlassRoute[] {
    const address = this.peerAddress(peer);
    const planned = this.planned(peer);
    if (!address || !planned || !this.speaker) throw new Error(`no BGP peer ${peer} on this node`);
    const fams = family ? [parseFamily(family)] : (planned.config.families ?? []);
    const out: LookingGlassRoute[] = [];
    for (const f of fams) {
      if (!f) throw new Error(`unknown address family ${family}`);
      const rs =
        kind === "received"
          ? this.speaker.receivedRoutes(address, f)
          : this.speaker.advertisedRoutes(address, f);
      for (const r of rs) out.push({ family: familyName(f), ...r });
    }
    return out;
  }

  /** Routes accepted from a peer (post import policy; stale ones during its restart). Peer by name or address. */
  receivedRoutes(peer: string, family?: string): LookingGlassRoute[] {
    return this.routes("received", peer, family);
  }

  /** Routes in a peer's Adj-RIB-Out, with the attributes it was sent. */
  advertisedRoutes(peer: string, family?: string): LookingGlassRoute[] {
    return this.routes("advertised", peer, family);
  }

  /**
   * Received VPN routes for the SRv6 import, optionally only those carrying one of `routeTargets`
   * ("65000:1"). The SID is un-transposed only when the route carries no structure; callers that
   * need the full SID use `prefixSid` from the looking glass.
   */
  vpnRoutes(filter: { routeTargets?: string[] } = {}): VpnRoute[] {
    const out: VpnRoute[] = [];
    if (!this.speaker || !this.plan) return out;
    for (const p of this.plan.peers) {
      for (const f of ["ipv4-vpn", "ipv6-vpn"] as Family[]) {
        if (!p.config.families?.includes(f)) continue;
        for (const r of this.speaker.receivedRoutes(p.config.address, f)) {
          const rts = r.extendedCommunities.filter((e) => e.startsWith("rt:")).map((e) => e.slice(3));
          if (filter.routeTargets && !rts.some((t) => filter.routeTargets!.includes(t))) continue;
          out.push({
            peer: p.name,
            family: f === "ipv4-vpn" ? "vpnv4" : "vpnv6",
            rd: r.rd ?? "",
            routeTargets: rts,
            prefix: r.prefix,
            nextHops: r.nextHops,
            labels: r.labels ?? [],
            ...(r.prefixSid?.srv6L3Service?.sids[0] ? { sid: r.prefixSid.srv6L3Service.sids[0].sid } : {}),
            stale: !!r.stale,
          });
        }
      }
    }
    return out.sort((a, b) => (a.rd + a.prefix < b.rd + b.prefix ? -1 : 1));
  }
}

function familyName(f: Family): string {
  return f === "ipv4-vpn" ? "vpnv4" : f === "ipv6-vpn" ? "vpnv6" : f;
}
