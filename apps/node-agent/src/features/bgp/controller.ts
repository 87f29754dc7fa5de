// Drives the node's BGP instances from its desired state: one BgpSpeaker per instance (own ASN,
// router ID, RIBs and export policy), all behind one listener on :179 that hands each incoming
// connection to the instance that has its source address as a peer. Reconcile, never replay:
// every apply builds a plan and only the difference to the running speakers is applied, so the
// same state twice changes nothing, an advertisement edit never touches a session, and adding or
// removing one instance never touches another's sessions.

import {
  BgpSpeaker,
  type Family,
  type OriginateRoute,
  type PrefixSid,
  type RouteView,
  SharedListener,
  type Srv6ServiceSid,
  serviceSid,
  type Transport,
} from "@meridian/bgp";
import type { BgpPeerState } from "@meridian/model";
import { KernelRouteInstaller, type KernelRoutesOptions } from "./kernel-routes.js";
import { advertisementReasons } from "./looking-glass.js";
import {
  type AdvertisedRoute,
  type BgpPlan,
  type DesiredBgp,
  type DesiredSrv6,
  type InstancePlan,
  type PlannedPeer,
  parseFamily,
  planBgp,
  sessionResets,
} from "./plan.js";
import { type BgpStatus, buildStatus } from "./status.js";

export interface BgpControllerOptions {
  /** Socket hooks for TCP-MD5 and TTL; the agent passes `await nativeTransport()`. */
  transport?: Transport;
  /** Default: port 179 on every address, shared by all instances. false: active sessions only. */
  listen?: { port?: number; host?: string } | false;
  /** Fetches an MD5 key by the desired state's `passwordRef` (the agent: the `bgpPassword` query). */
  resolvePassword?: (ref: string, peer: BgpPeerState) => Promise<string | undefined>;
  /**
   * Installing received unicast routes for peers with `installRoutes` (kernel-routes.ts), in this
   * process's network namespace. false: never touch the kernel (in-process tests without root).
   */
  kernelRoutes?: KernelRoutesOptions | false;
  /**
   * This process replaces an agent that stopped with `stop({ graceful: true })`. The instances the
   * first apply starts are restarting speakers (RFC 4724 §4.1): their OPENs carry the R bit, and
   * they defer best-path selection — every UPDATE and their End-of-RIB — until each
   * graceful-restart peer has sent its End-of-RIB or `selectionDeferralSeconds` runs out.
   */
  restarting?: boolean;
  /** Upper bound of that deferral (RFC 4724 Selection_Deferral_Timer). Default 120 s. */
  selectionDeferralSeconds?: number;
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
  /** Received unicast routes of a peer with installRoutes: this path is the one in the kernel. */
  installed?: boolean;
}

/** A received VPN route, grouped by RD and route target for the SRv6 import. */
export interface VpnRoute {
  instance: string;
  peer: string;
  family: "vpnv4" | "vpnv6";
  rd: string;
  routeTargets: string[];
  prefix: string;
  nextHops: string[];
  labels: number[];
  /** The full SRv6 service SID (untransposed). */
  sid?: string;
  srv6?: Srv6ServiceSid;
  stale: boolean;
}

const EMPTY: DesiredBgp = { instances: [] };

/** One BGP instance on this node: its speaker and what has been applied to it. */
class Instance {
  speaker?: BgpSpeaker;
  /** "asn|routerId": a change re-creates the speaker (every session of this instance resets). */
  id?: string;
  originated = new Map<string, OriginateRoute>();
  /** Peer configs last handed to the speaker, by address. */
  peers = new Map<string, PlannedPeer>();

  constructor(readonly name: string) {}

  async start(
    plan: InstancePlan & { speaker: NonNullable<InstancePlan["speaker"]> },
    listen: SharedListener | false,
    opts: BgpControllerOptions,
    restarting: boolean,
  ): Promise<BgpSpeaker> {
    const speaker = new BgpSpeaker({
      asn: plan.speaker.asn,
      routerId: plan.speaker.routerId,
      listen,
      ...(opts.transport ? { transport: opts.transport } : {}),
      ...(restarting
        ? {
            gracefulRestart: {
              restarting: true,
              ...(opts.selectionDeferralSeconds !== undefined
                ? { selectionDeferralTime: opts.selectionDeferralSeconds }
                : {}),
            },
          }
        : {}),
    });
    await speaker.start();
    this.speaker = speaker;
    this.id = `${plan.speaker.asn}|${plan.speaker.routerId}`;
    return speaker;
  }

  /** Drops peers the new plan does not run here, before any instance adds its new ones. */
  removeGone(plan: InstancePlan): void {
    const keep = new Set(plan.peers.filter((p) => p.problems.length === 0).map((p) => p.config.address));
    for (const addr of [...this.peers.keys()]) {
      if (keep.has(addr)) continue;
      this.speaker?.removePeer(addr);
      this.peers.delete(addr);
    }
  }

  /** Originations first, then peers, then withdrawals: a session never starts without its routes. */
  apply(plan: InstancePlan, carry: (address: string, n: number) => void, beforePeers: () => void): void {
    const speaker = this.speaker!;
    for (const [key, route] of plan.originate) {
      const had = this.originated.get(key);
      if (!had || JSON.stringify(had) !== JSON.stringify(route)) speaker.originate(route);
    }
    const peers = plan.peers.filter((p) => p.problems.length === 0);
    for (const p of peers) {
      const old = this.peers.get(p.config.address);
      const st = speaker.peerStatus(p.config.address);
      if (old && st && sessionResets(old.config, p.config))
        carry(p.config.address, st.flaps + (st.state === "Established" ? 1 : 0));
    }
    beforePeers();
    speaker.setPeers(peers.map((p) => p.config));
    this.peers = new Map(peers.map((p) => [p.config.address, p]));
    for (const [key, route] of this.originated) {
      if (!plan.originate.has(key))
        speaker.withdraw({ family: route.family, prefix: route.prefix, rd: route.rd });
    }
    this.originated = new Map(plan.originate);
  }

  /** Every session of the instance goes down; flaps carried so the counters never go back. */
  async stop(carry: (address: string, n: number) => void, opts: { graceful?: boolean } = {}): Promise<void> {
    if (!this.speaker) return;
    for (const st of this.speaker.status())
      carry(st.address, st.flaps + (st.state === "Established" ? 1 : 0));
    await this.speaker.stop(opts);
    this.speaker = undefined;
    this.id = undefined;
    this.originated = new Map();
    this.peers = new Map();
  }
}

export class BgpController {
  private instances = new Map<string, Instance>();
  private listener?: SharedListener;
  private desired: DesiredBgp = EMPTY;
  private context: ApplyContext = {};
  private sources = new Map<string, AdvertisedRoute[]>();
  private plan?: BgpPlan;
  /** Flaps of sessions the controller re-created (config resets), by "instance|address". */
  private carriedFlaps = new Map<string, number>();
  /**
   * MD5 keys fetched, by passwordRef, with the passwordVersion they were fetched for: a key is
   * fetched again only when its version changes, so a password change resets that session alone
   * and every other apply costs no round trip to the control plane.
   */
  private passwords = new Map<string, { version?: string; password: string }>();
  private lastError?: string;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Speakers started once an apply has completed are not restarting: they did not exist before. */
  private applied = false;
  /** Looking-glass listeners: told when any peer's routes may have changed. */
  private routeListeners = new Set<() => void>();

  private readonly kernel?: KernelRouteInstaller;
  /** The instance whose best paths the kernel installer follows (it follows one speaker). */
  private kernelInstance?: Instance;

  constructor(private readonly options: BgpControllerOptions = {}) {
    if (options.kernelRoutes !== false) this.kernel = new KernelRouteInstaller(options.kernelRoutes || {});
  }

  /** The port the shared listener is bound to (tests bind port 0); undefined while no instance runs. */
  get listenPort(): number | undefined {
    return this.listener?.port;
  }

  /** Applies the BGP part of the desired state. Resolves when the speakers hold the new plan. */
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

  /**
   * Stops every instance. `graceful` closes sessions without NOTIFICATION so peers keep our routes
   * (RFC 4724), and leaves installed routes in the kernel so forwarding continues until the next
   * agent adopts them; otherwise every route we installed is deleted.
   */
  stop(opts: { graceful?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      this.stopped = true;
      // Before the sessions close: their withdrawals must not reach the kernel on a graceful stop.
      this.kernel?.detach();
      this.kernelInstance = undefined;
      for (const inst of this.instances.values()) await inst.speaker?.stop(opts);
      this.instances = new Map();
      await this.listener?.close();
      this.listener = undefined;
      if (!opts.graceful) await this.kernel?.clear();
    });
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) throw new Error("BGP controller is stopped");
    // Leftover routes of a previous agent are known before any session can touch them.
    await this.kernel?.start();
    try {
      const passwords = await this.resolvePasswords();
      const plan = planBgp(this.desired, this.sources, { ...this.context, passwords });
      await this.applyPlan(plan);
      this.plan = plan;
      this.applied = true;
      this.lastError = undefined;
      // Peers, families or export policy may differ now even if no route moved yet.
      this.routesChanged();
    } catch (err) {
      // Keep the last good state running; the error is reported in status.
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  private async resolvePasswords(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const resolve = this.options.resolvePassword;
    const kept = new Map<string, { version?: string; password: string }>();
    for (const inst of this.desired.instances) {
      for (const p of inst.peers) {
        if (!p.hasPassword || !p.passwordRef || !resolve) continue;
        let entry = this.passwords.get(p.passwordRef);
        // Without a version (an older control plane) there is no telling: fetch every time.
        if (!entry || entry.version !== p.passwordVersion || p.passwordVersion === undefined) {
          try {
            const pw = await resolve(p.passwordRef, p);
            entry = pw === undefined ? undefined : { version: p.passwordVersion, password: pw };
          } catch (err) {
            // Control plane unreachable: a session keeps the key it has (its old version, so the
            // next apply fetches again); a peer with no key yet fails the apply as before.
            if (!entry) throw err;
          }
        }
        if (!entry) continue;
        kept.set(p.passwordRef, entry);
        out.set(p.passwordRef, entry.password);
      }
    }
    this.passwords = kept;
    return out;
  }

  private async sharedListener(): Promise<SharedListener | false> {
    if (this.options.listen === false) return false;
    if (!this.listener) {
      const listener = new SharedListener({
        ...(this.options.listen ?? {}),
        ...(this.options.transport ? { transport: this.options.transport } : {}),
      });
      await listener.start();
      this.listener = listener;
    }
    return this.listener;
  }

  private async applyPlan(plan: BgpPlan): Promise<void> {
    const wanted = new Map(
      plan.instances.filter((i) => i.speaker).map((i) => [i.name, i as InstancePlan & { speaker: object }]),
    );
    // 1. Instances that go away or change ASN / router ID: only their own sessions reset.
    for (const [name, inst] of [...this.instances]) {
      const p = wanted.get(name);
      const id = p?.speaker ? `${p.speaker.asn}|${p.speaker.routerId}` : undefined;
      if (inst.speaker && inst.id === id) continue;
      if (this.kernelInstance === inst) {
        // Installed routes stay until the new sessions re-announce them (or the adopt timeout).
        this.kernel?.readopt();
        this.kernelInstance = undefined;
      }
      await inst.stop((a, n) => this.carry(name, a, n));
      if (!p) this.instances.delete(name);
    }
    // 2. Peers leaving an instance go before any instance adds peers: one may move between them.
    for (const [name, p] of wanted) this.instances.get(name)?.removeGone(p);
    // 3. Start new speakers, then originate and set peers per instance.
    const installingPlans = [...wanted.values()].filter((i) => i.peers.some((x) => x.installRoutes));
    const kernelPlan = this.kernel ? installingPlans[0] : undefined;
    if (kernelPlan && installingPlans.length > 1) {
      // The installer follows one speaker: two instances could pick different paths for a prefix.
      plan.problems.push(
        `installRoutes: only BGP instance ${kernelPlan.name} installs routes into the kernel; peers of ${installingPlans
          .slice(1)
          .map((i) => i.name)
          .join(", ")} with installRoutes are not installed (one installing instance per node)`,
      );
    }
    for (const [name, p] of wanted) {
      let inst = this.instances.get(name);
      if (!inst) {
        inst = new Instance(name);
        this.instances.set(name, inst);
      }
      if (!inst.speaker) {
        const speaker = await inst.start(
          p as InstancePlan & { speaker: NonNullable<InstancePlan["speaker"]> },
          await this.sharedListener(),
          this.options,
          !!this.options.restarting && !this.applied,
        );
        speaker.on("routes-changed", () => this.routesChanged());
      }
      const installer = this.kernel;
      inst.apply(
        p,
        (a, n) => this.carry(name, a, n),
        () => {
          if (
            !installer ||
            (kernelPlan ? kernelPlan.name !== name : inst !== [...this.instances.values()][0])
          )
            return;
          if (this.kernelInstance !== inst) {
            if (this.kernelInstance) installer.readopt();
            installer.attach(inst.speaker!);
            this.kernelInstance = inst;
          }
          // Set before the speaker changes peers: a removed peer's routes leave with it.
          installer.setPeers(
            p.peers
              .filter((x) => x.installRoutes && x.problems.length === 0)
              .map((x) => ({ address: x.config.address })),
          );
          // Never route towards a peer what this node originates, in any instance.
          installer.setExcluded(
            [...wanted.values()]
              .flatMap((i) => [...i.originate.values()])
              .filter((r) => r.family === "ipv4-unicast" || r.family === "ipv6-unicast")
              .map((r) => r.prefix),
          );
        },
      );
    }
    if (wanted.size === 0) {
      this.kernelInstance = undefined;
      await this.kernel?.clear();
      await this.listener?.close();
      this.listener = undefined;
    }
  }

  private carry(instance: string, address: string, n: number): void {
    const key = `${instance}|${address}`;
    this.carriedFlaps.set(key, (this.carriedFlaps.get(key) ?? 0) + n);
  }

  // ---- status and looking glass ----

  /** `listener` runs (synchronously, so keep it cheap) whenever some peer's routes may have changed. */
  onRoutesChanged(listener: () => void): () => void {
    this.routeListeners.add(listener);
    return () => this.routeListeners.delete(listener);
  }

  private routesChanged(): void {
    for (const l of this.routeListeners) l();
  }

  /**
   * Why routes go to `peer`: "<rd>|<prefix>" → the advertisements and agent features that pick the
   * prefix for this peer (several when they merge onto one route).
   */
  advertisementReasons(peer: string): Map<string, string[]> {
    const name = this.planned(peer)?.name ?? peer;
    return advertisementReasons(this.desired, this.sources, this.context.srv6, name);
  }

  /** Per-instance and per-peer status as plain JSON (see status.ts). */
  status(): BgpStatus {
    const speakers = new Map(
      [...this.instances]
        .filter(([, i]) => i.speaker)
        .map(([name, i]) => [name, { peers: i.speaker!.status(), restart: i.speaker!.restartStatus() }]),
    );
    return buildStatus({
      plan: this.plan,
      speakers,
      carriedFlaps: this.carriedFlaps,
      lastError: this.lastError,
      running: speakers.size > 0,
      ...(this.kernel ? { kernel: this.kernel } : {}),
    });
  }

  /**
   * A peer by name, address, or "instance/peer" (names are unique in the control plane, and
   * addresses within a node; the instance form is there to be explicit).
   */
  private planned(peer: string): PlannedPeer | undefined {
    const slash = peer.indexOf("/");
    const [inst, ref] =
      slash > 0 && !peer.includes(":") ? [peer.slice(0, slash), peer.slice(slash + 1)] : [undefined, peer];
    const candidates = (this.plan?.peers ?? []).filter(
      (x) => (inst === undefined || x.instance === inst) && (x.name === ref || x.config.address === ref),
    );
    return candidates.find((x) => x.problems.length === 0) ?? candidates[0];
  }

  private routes(kind: "received" | "advertised", peer: string, family?: string): LookingGlassRoute[] {
    const planned = this.planned(peer);
    const speaker = planned && this.instances.get(planned.instance)?.speaker;
    if (!planned || !speaker) throw new Error(`no BGP peer ${peer} on this node`);
    const address = planned.config.address;
    const fams = family ? [parseFamily(family)] : (planned.config.families ?? []);
    const out: LookingGlassRoute[] = [];
    const installing = this.kernelInstance && this.instances.get(planned.instance) === this.kernelInstance;
    for (const f of fams) {
      if (!f) throw new Error(`unknown address family ${family}`);
      const rs =
        kind === "received" ? speaker.receivedRoutes(address, f) : speaker.advertisedRoutes(address, f);
      const marks =
        kind === "received" &&
        planned.installRoutes &&
        installing &&
        this.kernel &&
        (f === "ipv4-unicast" || f === "ipv6-unicast");
      for (const r of rs) {
        out.push({
          family: familyName(f),
          ...r,
          ...(marks ? { installed: this.kernel!.isInstalled(r.prefix, address) } : {}),
        });
      }
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
   * ("65000:1"). `sid` is the full SID to program (function bits put back from the label when the
   * sender transposed them, RFC 9252 §4), with its behavior and structure.
   */
  vpnRoutes(filter: { routeTargets?: string[] } = {}): VpnRoute[] {
    const out: VpnRoute[] = [];
    if (!this.plan) return out;
    for (const p of this.plan.peers) {
      const speaker = p.problems.length === 0 ? this.instances.get(p.instance)?.speaker : undefined;
      if (!speaker) continue;
      for (const f of ["ipv4-vpn", "ipv6-vpn"] as Family[]) {
        if (!p.config.families?.includes(f)) continue;
        for (const r of speaker.receivedRoutes(p.config.address, f)) {
          const rts = r.extendedCommunities.filter((e) => e.startsWith("rt:")).map((e) => e.slice(3));
          if (filter.routeTargets && !rts.some((t) => filter.routeTargets!.includes(t))) continue;
          out.push({
            instance: p.instance,
            peer: p.name,
            family: f === "ipv4-vpn" ? "vpnv4" : "vpnv6",
            rd: r.rd ?? "",
            routeTargets: rts,
            prefix: r.prefix,
            nextHops: r.nextHops,
            labels: r.labels ?? [],
            ...srv6Of(r),
            stale: !!r.stale,
          });
        }
      }
    }
    return out.sort((a, b) => (a.rd + a.prefix < b.rd + b.prefix ? -1 : 1));
  }
}

function srv6Of(r: { prefixSid?: PrefixSid; labels?: number[] }): Pick<VpnRoute, "sid" | "srv6"> {
  const s = serviceSid(r);
  return s ? { sid: s.sid, srv6: s } : {};
}

function familyName(f: Family): string {
  return f === "ipv4-vpn" ? "vpnv4" : f === "ipv6-vpn" ? "vpnv6" : f;
}
