import { EventEmitter } from "node:events";
import { AttrFlag, type PathAttributes, reconstructAsPath } from "./codec/attributes.js";
import {
  formatCommunity,
  formatExtendedCommunity,
  parseCommunity,
  routeTarget,
} from "./codec/communities.js";
import { CeaseSubcode } from "./codec/errors.js";
import { type Family, isV6, isVpn } from "./codec/families.js";
import { canonicalPrefix, isIpv6, parseIpv4, parseIpv6 } from "./codec/ip.js";
import type { UpdateMessage } from "./codec/messages.js";
import type { Nlri } from "./codec/nlri.js";
import { endOfRib, packAnnouncements, packWithdrawals } from "./codec/pack.js";
import { type PrefixSid, type SidStructure, transposeSid } from "./codec/prefix-sid.js";
import { AttrInterner, type AttrSet, labelsOf, type RouteValue, setOf } from "./rib/attrs.js";
import { type Candidate, compare } from "./rib/best-path.js";
import { keyToNlri, prefixKey, type RouteKey } from "./rib/keys.js";
import {
  applySet,
  type CompiledPolicy,
  type CompiledRule,
  compilePolicy,
  evaluate,
  type PolicyConfig,
} from "./rib/policy.js";
import { Listener, type ListenerClient, SharedListener } from "./session/listener.js";
import { Session, type SessionConfig, type SessionError } from "./session/session.js";
import { Timer } from "./session/timer.js";
import type { GracefulRestartConfig, SessionState, Transport } from "./session/types.js";

export interface SpeakerConfig {
  asn: number;
  routerId: string;
  /**
   * Where to accept connections; false for active-only speakers. Default port 179 on all
   * addresses. A `SharedListener` lets several speakers (BGP instances with different local ASNs)
   * share one socket: the speaker attaches on start and detaches on stop, and the owner starts and
   * closes the listener.
   */
  listen?: { port?: number; host?: string } | false | SharedListener;
  transport?: Transport;
  /** The speaker's own graceful restart (RFC 4724 §4.1); per-peer settings are in `PeerConfig`. */
  gracefulRestart?: SpeakerGracefulRestart;
}

export interface SpeakerGracefulRestart {
  /**
   * This speaker replaces one that stopped with `stop({ graceful: true })`: OPENs carry the R bit,
   * and best-path selection — hence every UPDATE and our End-of-RIB — waits per family until each
   * graceful-restart peer has sent its End-of-RIB, or `selectionDeferralTime` runs out.
   */
  restarting?: boolean;
  /** Upper bound of that wait in seconds (RFC 4724's Selection_Deferral_Timer). Default 120. */
  selectionDeferralTime?: number;
  /**
   * Helper side (§4.2): once a restarted peer is back, how long its stale routes may wait for its
   * End-of-RIB before they are removed. Default 360 (as FRR's stalepath-time).
   */
  stalePathTime?: number;
}

/** Default Selection_Deferral_Timer: long enough for every peer's initial table, well inside helpers' stale-path timers (FRR 360 s, BIRD 240 s). */
export const DEFAULT_SELECTION_DEFERRAL_TIME = 120;
export const DEFAULT_STALE_PATH_TIME = 360;

/** The restarting side of graceful restart as status shows it. */
export interface RestartStatus {
  /** Still deferring selection for some family. */
  deferring: boolean;
  since: Date;
  /** Families whose selection is still deferred, with the peers whose End-of-RIB is awaited. */
  waiting: { family: Family; peers: string[] }[];
  /** When and why deferral ended: every End-of-RIB arrived, or the deferral timer ran out. */
  completed?: { at: Date; reason: "end-of-rib" | "timer" | "stopped" };
}

export interface PeerConfig {
  address: string;
  asn: number;
  port?: number;
  localAddress?: string;
  passive?: boolean;
  families?: Family[];
  holdTime?: number;
  /** Seconds between KEEPALIVEs; default and at most a third of the negotiated hold time. */
  keepalive?: number;
  connectRetry?: number;
  /** eBGP multihop TTL; directly connected eBGP uses 1. Needs a transport that can set IP_TTL. */
  ebgpMultihop?: number;
  md5Password?: string;
  /** Absent means RFC 8212: an eBGP peer gets and gives nothing. */
  importPolicy?: PolicyConfig;
  exportPolicy?: PolicyConfig;
  /** Next hops announced as "self" when the session address is of the other family. */
  nextHopIpv4?: string;
  nextHopIpv6?: string;
  gracefulRestart?: GracefulRestartConfig;
  extendedNextHop?: boolean;
  description?: string;
}

export interface Srv6Service {
  /** Full SID (locator + function); transposed into the label when a structure is given. */
  sid: string;
  behavior: number;
  structure?: SidStructure;
  /** RFC 9252 §4: carry the function bits in the label so routes can share one attribute set. */
  transpose?: boolean;
}

export interface OriginateRoute {
  family?: Family;
  prefix: string;
  rd?: string;
  labels?: number[];
  /** Default: our own address on each session. */
  nextHop?: string;
  origin?: number;
  med?: number;
  localPref?: number;
  /** "65000:100" or well-known names. */
  communities?: string[];
  largeCommunities?: string[];
  /** "rt:65000:1" or 16 hex digits. */
  extendedCommunities?: string[];
  prefixSid?: PrefixSid;
  srv6?: Srv6Service;
}

export interface FamilyCounters {
  received: number;
  accepted: number;
  advertised: number;
}

export interface PeerStatus {
  address: string;
  asn: number;
  description?: string;
  state: SessionState;
  uptimeSeconds: number;
  flaps: number;
  lastError?: SessionError;
  /** Last error in words, e.g. "received: OPEN Message Error / Bad Peer AS". */
  lastErrorWords?: string;
  prefixes: Partial<Record<Family, FamilyCounters>>;
  negotiated?: {
    families: Family[];
    as4: boolean;
    routeRefresh: boolean;
    extendedNextHop: Family[];
    gracefulRestart: boolean;
    holdTime: number;
    keepalive: number;
    peerRouterId: string;
    localAddress: string;
  };
}

export interface RouteView {
  prefix: string;
  rd?: string;
  labels?: number[];
  nextHops: string[];
  origin?: number;
  asPath: number[];
  med?: number;
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
  extendedCommunities: string[];
  prefixSid?: PrefixSid;
  stale?: boolean;
  /** Loc-RIB only: where the best path came from ("local" or a peer address). */
  from?: string;
}

/** The best path of one prefix, as the "best-path" event reports it. */
export interface BestPath {
  /** "local" or the address of the peer the path came from. */
  from: string;
  /** The path's next hops (shared with the Loc-RIB: do not modify). */
  nextHops: readonly string[];
  /** Kept from a peer in graceful restart (RFC 4724) until its End-of-RIB or restart timer. */
  stale: boolean;
  /** The interned attribute set; `bestRoutes(family)` renders a full `RouteView`. */
  attributes: AttrSet;
  labels?: number[];
}

/** One prefix whose Loc-RIB best path may have changed; `best` is undefined when it has none any more. */
export interface BestPathChange {
  family: Family;
  prefix: string;
  rd?: string;
  best?: BestPath;
}

type FamilyMap<T> = Map<Family, Map<RouteKey, T>>;

/** What a session reports when it goes down (see Session "down"). */
interface DownInfo {
  error: SessionError;
  graceful: boolean;
  restartTime: number;
  /** Families in the peer's graceful-restart capability. */
  families: Family[];
}

function fmap<T>(m: FamilyMap<T>, f: Family): Map<RouteKey, T> {
  let x = m.get(f);
  if (!x) {
    x = new Map();
    m.set(f, x);
  }
  return x;
}

function ipNum(ip: string): number {
  return ip.split(".").reduce((n, p) => n * 256 + Number(p), 0);
}

class Peer {
  session!: Session;
  ebgp: boolean;
  importPolicy: CompiledPolicy;
  exportPolicy: CompiledPolicy;
  adjIn: FamilyMap<RouteValue> = new Map();
  stale: FamilyMap<RouteValue> = new Map();
  rejected: Map<Family, Set<RouteKey>> = new Map();
  adjOut: FamilyMap<RouteValue> = new Map();
  pending: FamilyMap<RouteValue | null> = new Map();
  eorPending = new Set<Family>();
  /** Families whose End-of-RIB arrived on the current session (the restarting side waits for them). */
  eorReceived = new Set<Family>();
  flushing = false;
  exportCache = new WeakMap<AttrSet, Map<string, AttrSet>>();
  importCache = new WeakMap<AttrSet, Map<number, AttrSet>>();
  staleTimer: Timer;

  constructor(
    public config: PeerConfig,
    localAs: number,
    onStaleExpiry: () => void,
  ) {
    this.ebgp = config.asn !== localAs;
    this.importPolicy = compilePolicy(config.importPolicy, this.ebgp);
    this.exportPolicy = compilePolicy(config.exportPolicy, this.ebgp);
    this.staleTimer = new Timer(onStaleExpiry);
  }

  get families(): Family[] {
    return this.config.families ?? [isIpv6(this.config.address) ? "ipv6-unicast" : "ipv4-unicast"];
  }

  get established(): boolean {
    return this.session.state === "Established";
  }

  negotiatedFamily(f: Family): boolean {
    return !!this.session.negotiated?.families.includes(f);
  }
}

const SESSION_FIELDS: (keyof PeerConfig)[] = [
  "asn",
  "port",
  "localAddress",
  "passive",
  "families",
  "holdTime",
  "keepalive",
  "connectRetry",
  "ebgpMultihop",
  "md5Password",
  "gracefulRestart",
  "extendedNextHop",
];

/**
 * The BGP speaker: sessions, Adj-RIB-In / Loc-RIB / Adj-RIB-Out, policy and best path behind one
 * object. Events: "peer-state" (address, state), "peer-up" (address), "peer-down" (address, error),
 * "end-of-rib" (address, family), "selection-deferral-done" (reason; after our own graceful
 * restart, see `SpeakerGracefulRestart`), and "best-path" (BestPathChange[]): the current best path of every
 * prefix whose selection ran since the last "best-path", emitted once per batch (a microtask after
 * the UPDATEs of one socket read, a peer going down, an originate…). A prefix appears once per batch
 * with its state after the batch; it may appear although its best path is unchanged (another
 * peer's path for it changed), so consumers compare with what they hold. Nothing is tracked while
 * nobody listens, so a full table costs nothing extra then. "routes-changed" (no arguments): some
 * Adj-RIB-In or Adj-RIB-Out may have changed, at most once per turn of the event loop (the looking
 * glass re-reads then).
 */
export class BgpSpeaker extends EventEmitter {
  private peers = new Map<string, Peer>();
  private local: FamilyMap<RouteValue> = new Map();
  private locRib: FamilyMap<Peer | "local"> = new Map();
  private interner = new AttrInterner();
  private listener?: Listener;
  /** Prefixes whose best path ran selection since the last "best-path" event; only while listened to. */
  private bestDirty?: Map<Family, Set<RouteKey>>;
  private watchBest = false;
  private shared?: SharedListener;
  private readonly client: ListenerClient = {
    sessionFor: (addr) => this.peers.get(addr)?.session,
    listenerPeers: () => [...this.peers.values()].map((p) => p.config),
  };
  /** RFC 4724 §4.1 selection deferral after our restart: present until every family is done. */
  private deferral?: {
    timer: Timer;
    done: Set<Family>;
    /** Keys whose selection was deferred, per family. */
    dirty: Map<Family, Set<RouteKey>>;
    checkQueued: boolean;
  };
  private restart?: RestartStatus;
  listenPort?: number;

  constructor(readonly config: SpeakerConfig) {
    super();
    if (config.gracefulRestart?.restarting) {
      const time = config.gracefulRestart.selectionDeferralTime ?? DEFAULT_SELECTION_DEFERRAL_TIME;
      this.deferral = {
        timer: new Timer(() => this.endDeferral("timer")),
        done: new Set(),
        dirty: new Map(),
        checkQueued: false,
      };
      this.deferral.timer.start(time);
      this.restart = { deferring: true, since: new Date(), waiting: [] };
    }
    this.on("newListener", (event: string) => {
      if (event === "best-path") this.watchBest = true;
    });
    this.on("removeListener", (event: string) => {
      if (event === "best-path") this.watchBest = this.listenerCount("best-path") > 0;
    });
  }

  async start(): Promise<void> {
    if (this.config.listen === false) return;
    if (this.config.listen instanceof SharedListener) {
      this.shared = this.config.listen;
      for (const addr of this.peers.keys()) this.checkOwner(addr);
      this.shared.attach(this.client);
      this.listenPort = this.shared.port;
      return;
    }
    this.listener = new Listener((addr) => this.peers.get(addr)?.session, this.config.transport);
    this.listenPort = await this.listener.listen(
      this.config.listen?.port ?? 179,
      this.config.listen?.host ?? "::",
    );
    this.listener.configure([...this.peers.values()].map((p) => p.config));
  }

  /** Stops every session. `graceful` closes without NOTIFICATION so GR-capable peers keep our routes. */
  async stop(opts: { graceful?: boolean } = {}): Promise<void> {
    for (const p of this.peers.values()) {
      p.session.stop(CeaseSubcode.AdministrativeShutdown, opts);
      p.staleTimer.stop();
    }
    if (this.deferral) this.endDeferral("stopped", false);
    this.shared?.detach(this.client);
    await this.listener?.close();
  }

  /** Another speaker on the same shared listener must not have this peer: connections go by address. */
  private checkOwner(address: string): void {
    const shared =
      this.shared ?? (this.config.listen instanceof SharedListener ? this.config.listen : undefined);
    if (shared?.owner(address, this.client))
      throw new Error(`peer ${address} is already configured in another BGP speaker on this listener`);
  }

  private refreshListener(): void {
    this.listener?.configure([...this.peers.values()].map((p) => p.config));
    this.shared?.refresh();
  }

  // ---- configuration ----

  addPeer(config: PeerConfig): void {
    if (this.peers.has(config.address)) throw new Error(`peer ${config.address} already configured`);
    this.checkOwner(config.address);
    const peer = new Peer(config, this.config.asn, () => this.purgeStale(peer));
    this.peers.set(config.address, peer);
    this.attachSession(peer);
    this.refreshListener();
    peer.session.start();
    this.queueDeferralCheck();
  }

  /**
   * Applies a changed peer config. Only changes to what the session negotiates reset it; policy and
   * next-hop changes are re-evaluated in place (with a ROUTE-REFRESH for import changes).
   */
  updatePeer(config: PeerConfig): void {
    const peer = this.peers.get(config.address);
    if (!peer) {
      this.addPeer(config);
      return;
    }
    const old = peer.config;
    const sessionChanged = SESSION_FIELDS.some((k) => JSON.stringify(old[k]) !== JSON.stringify(config[k]));
    if (sessionChanged) {
      this.removePeer(config.address, CeaseSubcode.OtherConfigurationChange);
      this.addPeer(config);
      return;
    }
    const importChanged = JSON.stringify(old.importPolicy) !== JSON.stringify(config.importPolicy);
    peer.config = config;
    peer.importPolicy = compilePolicy(config.importPolicy, peer.ebgp);
    peer.exportPolicy = compilePolicy(config.exportPolicy, peer.ebgp);
    peer.exportCache = new WeakMap();
    peer.importCache = new WeakMap();
    peer.session.config = this.sessionConfig(config);
    if (peer.established) {
      for (const f of peer.session.negotiated!.families) this.resync(peer, f);
      if (importChanged) {
        // The Adj-RIB-In holds post-policy routes, so new import policy needs the peer to resend.
        if (peer.session.negotiated!.routeRefresh) {
          for (const f of peer.session.negotiated!.families)
            peer.session.sendMessage({ type: "route-refresh", family: f, subtype: 0 });
        } else peer.session.reset(CeaseSubcode.OtherConfigurationChange);
      }
    }
  }

  removePeer(address: string, subcode: number = CeaseSubcode.PeerDeconfigured): void {
    const peer = this.peers.get(address);
    if (!peer) return;
    peer.session.removeAllListeners();
    peer.session.stop(subcode);
    peer.staleTimer.stop();
    this.peers.delete(address);
    this.queueDeferralCheck();
    for (const m of [peer.adjIn, peer.stale]) {
      for (const [f, routes] of m) {
        const keys = [...routes.keys()];
        routes.clear();
        for (const k of keys) this.recompute(f, k);
      }
    }
  }

  /** Reconciles the whole peer list: adds, updates and removes so that only real changes touch sessions. */
  setPeers(configs: PeerConfig[]): void {
    const want = new Set(configs.map((c) => c.address));
    for (const addr of [...this.peers.keys()]) if (!want.has(addr)) this.removePeer(addr);
    for (const c of configs) {
      const cur = this.peers.get(c.address);
      if (!cur) this.addPeer(c);
      else if (JSON.stringify(cur.config) !== JSON.stringify(c)) this.updatePeer(c);
    }
  }

  private sessionConfig(c: PeerConfig): SessionConfig {
    return {
      localAs: this.config.asn,
      routerId: this.config.routerId,
      peerAddress: c.address,
      peerAs: c.asn,
      port: c.port,
      localAddress: c.localAddress,
      passive: c.passive,
      families: c.families ?? [isIpv6(c.address) ? "ipv6-unicast" : "ipv4-unicast"],
      holdTime: c.holdTime,
      keepalive: c.keepalive,
      connectRetry: c.connectRetry,
      ttl: c.asn !== this.config.asn ? (c.ebgpMultihop ?? 1) : 255,
      md5Password: c.md5Password,
      gracefulRestart: c.gracefulRestart,
      extendedNextHop: c.extendedNextHop,
      transport: this.config.transport,
      restartState: () => this.deferral !== undefined,
    };
  }

  private attachSession(peer: Peer): void {
    const s = new Session(this.sessionConfig(peer.config));
    peer.session = s;
    const addr = peer.config.address;
    s.on("state", (state: SessionState) => this.emit("peer-state", addr, state));
    s.on("established", () => this.onEstablished(peer));
    s.on("down", (info: DownInfo) => this.onDown(peer, info));
    s.on("update", (m: UpdateMessage) => this.onUpdate(peer, m));
    s.on("route-refresh", (f: Family) => {
      if (!peer.negotiatedFamily(f)) return;
      fmap(peer.adjOut, f).clear();
      this.resync(peer, f);
    });
  }

  // ---- origination ----

  originate(route: OriginateRoute): void {
    const family = route.family ?? (isIpv6(route.prefix) ? "ipv6-unicast" : "ipv4-unicast");
    const prefix = canonicalPrefix(route.prefix);
    const attrs: PathAttributes = { origin: route.origin ?? 0, asPath: [] };
    if (route.med !== undefined) attrs.med = route.med;
    if (route.localPref !== undefined) attrs.localPref = route.localPref;
    if (route.communities?.length) attrs.communities = route.communities.map(parseCommunity);
    if (route.largeCommunities?.length) attrs.largeCommunities = [...route.largeCommunities];
    if (route.extendedCommunities?.length) {
      attrs.extendedCommunities = route.extendedCommunities.map((e) =>
        e.startsWith("rt:") ? routeTarget(e.slice(3)) : e.toLowerCase(),
      );
    }
    let labels = route.labels;
    if (route.prefixSid) attrs.prefixSid = route.prefixSid;
    if (route.srv6) {
      let sid = route.srv6.sid;
      let st = route.srv6.structure;
      if (st && route.srv6.transpose !== false && st.transpositionLength > 0) {
        const t = transposeSid(sid, st);
        sid = t.sid;
        labels = [t.label];
      } else if (st) {
        // Not transposed: the whole SID is in the attribute, and the structure must say so, or a
        // receiver would rebuild the SID from the label (implicit null) and zero its function.
        st = { ...st, transpositionLength: 0, transpositionOffset: 0 };
      }
      attrs.prefixSid = {
        srv6L3Service: { sids: [{ sid, flags: 0, behavior: route.srv6.behavior, structure: st }] },
      };
    }
    if (isVpn(family) && !route.rd) throw new TypeError("VPN routes need a route distinguisher");
    // The empty next hop list means "self", resolved per session on export.
    const set = this.interner.intern(attrs, route.nextHop ? [route.nextHop] : []);
    const n: Nlri = { prefix, rd: route.rd, labels: labels ?? [3] };
    const key = prefixKey(family, n);
    fmap(this.local, family).set(key, isVpn(family) ? { set, labels: n.labels! } : set);
    this.recompute(family, key);
  }

  withdraw(route: { family?: Family; prefix: string; rd?: string }): void {
    const family = route.family ?? (isIpv6(route.prefix) ? "ipv6-unicast" : "ipv4-unicast");
    const key = prefixKey(family, { prefix: canonicalPrefix(route.prefix), rd: route.rd });
    if (fmap(this.local, family).delete(key)) this.recompute(family, key);
  }

  // ---- receive path ----

  private onUpdate(peer: Peer, m: UpdateMessage): void {
    const a = m.attributes;
    const hasAttrs = Object.keys(a).length > 0;
    if (m.withdrawn.length > 0) this.removeRoutes(peer, "ipv4-unicast", m.withdrawn);
    if (a.mpUnreach && peer.negotiatedFamily(a.mpUnreach.family))
      this.removeRoutes(peer, a.mpUnreach.family, a.mpUnreach.withdrawn);
    // RFC 4724 End-of-RIB markers.
    if (!hasAttrs && m.withdrawn.length === 0 && m.nlri.length === 0) {
      this.onEndOfRib(peer, "ipv4-unicast");
      return;
    }
    if (a.mpUnreach && a.mpUnreach.withdrawn.length === 0 && Object.keys(a).length === 1) {
      this.onEndOfRib(peer, a.mpUnreach.family);
      return;
    }
    const batches: [Family, Nlri[], string[]][] = [];
    if (m.nlri.length > 0) batches.push(["ipv4-unicast", m.nlri, a.nextHop ? [a.nextHop] : []]);
    if (a.mpReach && a.mpReach.nlri.length > 0)
      batches.push([a.mpReach.family, a.mpReach.nlri, a.mpReach.nextHops]);
    for (const [family, nlri, nextHops] of batches) {
      if (!peer.negotiatedFamily(family)) continue;
      // RFC 7606 treat-as-withdraw, and RFC 4271 §9.1.2 AS loop: the routes are gone, not the session.
      if (m.treatAsWithdraw || this.hasLoop(a)) {
        this.removeRoutes(peer, family, nlri);
        continue;
      }
      this.learn(peer, family, nlri, a, nextHops);
    }
  }

  private hasLoop(a: PathAttributes): boolean {
    const path = a.as4Path && a.asPath ? reconstructAsPath(a.asPath, a.as4Path) : a.asPath;
    return !!path?.some((s) => s.asns.includes(this.config.asn));
  }

  private learn(peer: Peer, family: Family, nlri: Nlri[], a: PathAttributes, nextHops: string[]): void {
    const attrs: PathAttributes = { ...a, mpReach: undefined, mpUnreach: undefined, nextHop: undefined };
    if (a.as4Path && a.asPath && !peer.session.codecContext.as4)
      attrs.asPath = reconstructAsPath(a.asPath, a.as4Path);
    attrs.as4Path = undefined;
    attrs.as4Aggregator = undefined;
    // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored.
    if (peer.ebgp) attrs.localPref = undefined;
    const base = this.interner.intern(attrs, nextHops);
    const adj = fmap(peer.adjIn, family);
    const stale = peer.stale.get(family);
    const rejected = peer.rejected.get(family);
    const policy = peer.importPolicy;
    for (const n of nlri) {
      const key = prefixKey(family, n);
      stale?.delete(key);
      let set: AttrSet | undefined = base;
      if (!policy.acceptAll) {
        const r = evaluate(policy, family, n.prefix, base.attrs);
        set = r.accept ? this.importSet(peer, base, r.rule) : undefined;
      }
      if (set) {
        adj.set(key, isVpn(family) ? { set, labels: n.labels ?? [] } : set);
        rejected?.delete(key);
      } else {
        adj.delete(key);
        let rj = peer.rejected.get(family);
        if (!rj) {
          rj = new Set();
          peer.rejected.set(family, rj);
        }
        rj.add(key);
      }
      this.recompute(family, key);
    }
  }

  private importSet(peer: Peer, base: AttrSet, rule: CompiledRule | undefined): AttrSet {
    if (!rule?.rule.set) return base;
    let byRule = peer.importCache.get(base);
    if (!byRule) {
      byRule = new Map();
      peer.importCache.set(base, byRule);
    }
    let s = byRule.get(rule.index);
    if (!s) {
      const r = applySet(rule, { ...base.attrs }, [...base.nextHops], () => [...base.nextHops]);
      s = this.interner.intern(r.attrs, r.nextHops);
      byRule.set(rule.index, s);
    }
    return s;
  }

  private removeRoutes(peer: Peer, family: Family, nlri: Nlri[]): void {
    const adj = peer.adjIn.get(family);
    const stale = peer.stale.get(family);
    const rejected = peer.rejected.get(family);
    for (const n of nlri) {
      const key = prefixKey(family, n);
      const had = (adj?.delete(key) ?? false) || (stale?.delete(key) ?? false);
      rejected?.delete(key);
      if (had) this.recompute(family, key);
    }
  }

  private onEndOfRib(peer: Peer, family: Family): void {
    // RFC 4724 §4.2: what the restarted peer did not send again by its End-of-RIB is gone.
    this.purgeStaleFamily(peer, family);
    peer.eorReceived.add(family);
    this.queueDeferralCheck();
    this.emit("end-of-rib", peer.config.address, family);
  }

  // ---- sessions coming and going ----

  private onEstablished(peer: Peer): void {
    const neg = peer.session.negotiated!;
    // RFC 4724 §4.2, helper side. The session is back: the restart timer stops. A peer that no
    // longer offers graceful restart cannot be holding our state; per family, stale routes go at
    // once when the family is no longer negotiated, missing from the new capability, or its
    // Forwarding State bit is clear. The rest wait for End-of-RIB, bounded by the stale-path timer.
    peer.staleTimer.stop();
    const gr = neg.peerGracefulRestart;
    if (!gr) this.purgeStale(peer);
    else {
      for (const f of [...peer.stale.keys()]) {
        const t = gr.families.find((x) => x.family === f);
        if (!t?.forwardingPreserved || !neg.families.includes(f)) this.purgeStaleFamily(peer, f);
      }
      if (this.hasStale(peer))
        peer.staleTimer.start(this.config.gracefulRestart?.stalePathTime ?? DEFAULT_STALE_PATH_TIME);
    }
    peer.adjOut = new Map();
    peer.pending = new Map();
    peer.eorReceived.clear();
    for (const f of neg.families) {
      // §4.1: while we defer selection after our own restart, the initial update and our
      // End-of-RIB for the family wait for the deferral to end (endDeferral sends them).
      if (this.deferred(f)) continue;
      peer.eorPending.add(f);
      this.resync(peer, f);
    }
    this.scheduleFlush(peer);
    this.queueDeferralCheck();
    this.routesChanged();
    this.emit("peer-up", peer.config.address);
  }

  private onDown(peer: Peer, info: DownInfo): void {
    peer.adjOut = new Map();
    peer.pending = new Map();
    peer.eorPending.clear();
    peer.rejected = new Map();
    if (info.graceful && info.restartTime > 0) {
      // RFC 4724 helper mode: keep the routes of the families the peer's capability listed,
      // marked stale, until End-of-RIB or the restart timer; the other families' go now.
      const old = peer.adjIn;
      peer.adjIn = new Map();
      for (const [f, routes] of old) {
        if (info.families.includes(f)) {
          const st = fmap(peer.stale, f);
          for (const [k, v] of routes) st.set(k, v);
        } else for (const k of routes.keys()) this.recompute(f, k);
      }
      for (const f of [...peer.stale.keys()]) if (!info.families.includes(f)) this.purgeStaleFamily(peer, f);
      peer.staleTimer.start(info.restartTime);
    } else {
      const old = peer.adjIn;
      peer.adjIn = new Map();
      for (const [f, routes] of old) for (const k of routes.keys()) this.recompute(f, k);
      this.purgeStale(peer);
    }
    this.routesChanged();
    this.emit("peer-down", peer.config.address, info.error);
  }

  private purgeStale(peer: Peer): void {
    peer.staleTimer.stop();
    const old = peer.stale;
    peer.stale = new Map();
    for (const [f, routes] of old) for (const k of routes.keys()) this.recompute(f, k);
  }

  private purgeStaleFamily(peer: Peer, family: Family): void {
    const stale = peer.stale.get(family);
    peer.stale.delete(family);
    if (stale) for (const k of stale.keys()) this.recompute(family, k);
    if (!this.hasStale(peer)) peer.staleTimer.stop();
  }

  private hasStale(peer: Peer): boolean {
    for (const m of peer.stale.values()) if (m.size > 0) return true;
    return false;
  }

  // ---- selection deferral after our own restart (RFC 4724 §4.1) ----

  private deferred(family: Family): boolean {
    return this.deferral !== undefined && !this.deferral.done.has(family);
  }

  /**
   * Peers whose End-of-RIB for `family` we still wait for: every peer with graceful restart
   * configured and the family enabled, except those whose session shows no graceful-restart
   * capability, the R bit (restarting too — waiting for each other would deadlock) or not the
   * family. A peer whose session is not up yet is waited for: until it is up we cannot know.
   */
  private awaited(family: Family): Peer[] {
    const out: Peer[] = [];
    for (const p of this.peers.values()) {
      if (!p.config.gracefulRestart || !p.families.includes(family)) continue;
      const neg = p.established ? p.session.negotiated : undefined;
      if (
        neg &&
        (!neg.peerGracefulRestart || neg.peerGracefulRestart.restarting || !neg.families.includes(family))
      )
        continue;
      if (!neg || !p.eorReceived.has(family)) out.push(p);
    }
    return out;
  }

  private deferralFamilies(): Family[] {
    const all = new Set<Family>();
    for (const p of this.peers.values()) for (const f of p.families) all.add(f);
    return [...all];
  }

  /** Checks after the current burst of events (setPeers adds peers one by one). */
  private queueDeferralCheck(): void {
    const d = this.deferral;
    if (!d || d.checkQueued) return;
    d.checkQueued = true;
    setImmediate(() => {
      d.checkQueued = false;
      if (this.deferral !== d) return;
      const families = this.deferralFamilies();
      // No peers yet (the controller originates before it adds peers): nothing to decide.
      if (families.length === 0) return;
      for (const f of families) if (!d.done.has(f) && this.awaited(f).length === 0) this.completeFamily(f);
      if (families.every((f) => d.done.has(f))) this.endDeferral("end-of-rib");
    });
  }

  /** Runs the deferred selection of one family, then sends the initial update and End-of-RIB. */
  private completeFamily(family: Family): void {
    const d = this.deferral!;
    d.done.add(family);
    const dirty = d.dirty.get(family);
    d.dirty.delete(family);
    for (const k of dirty ?? []) this.recompute(family, k);
    for (const p of this.peers.values()) {
      if (!p.established || !p.negotiatedFamily(family)) continue;
      p.eorPending.add(family);
      this.resync(p, family);
    }
  }

  private endDeferral(reason: "end-of-rib" | "timer" | "stopped", run = true): void {
    const d = this.deferral;
    if (!d) return;
    if (run)
      for (const f of new Set([...this.deferralFamilies(), ...d.dirty.keys()]))
        if (!d.done.has(f)) this.completeFamily(f);
    d.timer.stop();
    this.deferral = undefined;
    this.restart = { ...this.restart!, deferring: false, waiting: [], completed: { at: new Date(), reason } };
    if (run) this.emit("selection-deferral-done", reason);
  }

  /** The restarting side of graceful restart; undefined when this speaker did not restart. */
  restartStatus(): RestartStatus | undefined {
    if (!this.restart) return undefined;
    const d = this.deferral;
    if (!d) return { ...this.restart };
    return {
      ...this.restart,
      waiting: this.deferralFamilies()
        .filter((f) => !d.done.has(f))
        .map((family) => ({ family, peers: this.awaited(family).map((p) => p.config.address) })),
    };
  }

  // ---- best path ----

  private candidate(source: Peer | "local", v: RouteValue): Candidate {
    if (source === "local") {
      return {
        set: setOf(v),
        local: true,
        ebgp: false,
        peerRouterId: 0,
        peerAddress: "",
        peerAs: this.config.asn,
      };
    }
    return {
      set: setOf(v),
      local: false,
      ebgp: source.ebgp,
      peerRouterId: ipNum(source.session.negotiated?.peerRouterId ?? "255.255.255.255"),
      peerAddress: source.config.address,
      peerAs: source.config.asn,
    };
  }

  private lookup(source: Peer | "local", family: Family, key: RouteKey): RouteValue | undefined {
    if (source === "local") return this.local.get(family)?.get(key);
    return source.adjIn.get(family)?.get(key) ?? source.stale.get(family)?.get(key);
  }

  private recompute(family: Family, key: RouteKey): void {
    this.routesChanged();
    if (this.deferral && !this.deferral.done.has(family)) {
      // RFC 4724 §4.1: after our restart, selection for the family waits (see completeFamily).
      let dirty = this.deferral.dirty.get(family);
      if (!dirty) {
        dirty = new Set();
        this.deferral.dirty.set(family, dirty);
      }
      dirty.add(key);
      return;
    }
    let best: Peer | "local" | undefined;
    let bestCand: Candidate | undefined;
    const lv = this.local.get(family)?.get(key);
    if (lv) {
      best = "local";
      bestCand = this.candidate("local", lv);
    }
    for (const p of this.peers.values()) {
      const v = p.adjIn.get(family)?.get(key) ?? p.stale.get(family)?.get(key);
      if (!v) continue;
      const c = this.candidate(p, v);
      if (!bestCand || compare(c, bestCand) < 0) {
        best = p;
        bestCand = c;
      }
    }
    const loc = fmap(this.locRib, family);
    if (best) loc.set(key, best);
    else loc.delete(key);
    if (this.watchBest) this.markBest(family, key);
    for (const p of this.peers.values()) {
      if (p !== best && p.established && p.negotiatedFamily(family)) this.scheduleExport(p, family, key);
      else if (p === best && p.adjOut.get(family)?.has(key)) this.scheduleExport(p, family, key);
    }
  }

  private markBest(family: Family, key: RouteKey): void {
    let dirty = this.bestDirty;
    if (!dirty) {
      dirty = new Map();
      this.bestDirty = dirty;
      queueMicrotask(() => this.emitBest());
    }
    let keys = dirty.get(family);
    if (!keys) {
      keys = new Set();
      dirty.set(family, keys);
    }
    keys.add(key);
  }

  private emitBest(): void {
    const dirty = this.bestDirty;
    this.bestDirty = undefined;
    if (!dirty || !this.watchBest) return;
    const changes: BestPathChange[] = [];
    for (const [family, keys] of dirty) {
      const loc = this.locRib.get(family);
      for (const key of keys) {
        const n = keyToNlri(family, key);
        // Fixed object shapes, no spreads: a full table passes through here once per route.
        changes.push({ family, prefix: n.prefix, rd: n.rd, best: this.bestOf(family, key, loc) });
      }
    }
    if (changes.length > 0) this.emit("best-path", changes);
  }

  private bestOf(family: Family, key: RouteKey, loc = this.locRib.get(family)): BestPath | undefined {
    const src = loc?.get(key);
    if (!src) return undefined;
    let v: RouteValue | undefined;
    let stale = false;
    if (src === "local") v = this.local.get(family)?.get(key);
    else {
      v = src.adjIn.get(family)?.get(key);
      if (!v) {
        v = src.stale.get(family)?.get(key);
        stale = true;
      }
    }
    if (!v) return undefined;
    const set = setOf(v);
    return {
      from: src === "local" ? "local" : src.config.address,
      nextHops: set.nextHops,
      stale,
      attributes: set,
      labels: labelsOf(v),
    };
  }

  // ---- send path ----

  private selfHops(peer: Peer, family: Family): string[] {
    const local = peer.session.negotiated?.localAddress ?? "";
    if (isV6(family)) return [peer.config.nextHopIpv6 ?? (isIpv6(local) ? local : `::ffff:${local}`)];
    if (peer.config.nextHopIpv4) return [peer.config.nextHopIpv4];
    return [local];
  }

  /** What `peer` should hold for `key` after policy, or null to withdraw. */
  private exportFor(peer: Peer, family: Family, key: RouteKey): RouteValue | null {
    const source = this.locRib.get(family)?.get(key);
    if (!source || source === peer) return null;
    // No route reflection: iBGP-learned routes are not sent to iBGP peers.
    if (source !== "local" && !source.ebgp && !peer.ebgp) return null;
    const v = this.lookup(source, family, key)!;
    const set = setOf(v);
    const n = keyToNlri(family, key);
    const r = evaluate(peer.exportPolicy, family, n.prefix, set.attrs);
    if (!r.accept) return null;
    const out = this.exportSet(peer, family, set, source === "local", r.rule);
    const labels = labelsOf(v);
    return labels ? { set: out, labels } : out;
  }

  private exportSet(
    peer: Peer,
    family: Family,
    set: AttrSet,
    local: boolean,
    rule: CompiledRule | undefined,
  ): AttrSet {
    const cacheKey = `${family}|${rule?.index ?? -1}|${local ? 1 : 0}`;
    let byKey = peer.exportCache.get(set);
    if (!byKey) {
      byKey = new Map();
      peer.exportCache.set(set, byKey);
    }
    const hit = byKey.get(cacheKey);
    if (hit) return hit;
    const a: PathAttributes = { ...set.attrs };
    let hops = [...set.nextHops];
    if (peer.ebgp) {
      const path = a.asPath ?? [];
      const first = path[0];
      a.asPath =
        first && first.type === 2 && first.asns.length < 255
          ? [{ type: 2, asns: [this.config.asn, ...first.asns] }, ...path.slice(1)]
          : [{ type: 2, asns: [this.config.asn] }, ...path];
      a.localPref = undefined;
      if (!local) a.med = undefined;
      a.originatorId = undefined;
      a.clusterList = undefined;
      if (!local || hops.length === 0) hops = this.selfHops(peer, family);
    } else {
      a.localPref ??= 100;
      if (hops.length === 0) hops = this.selfHops(peer, family);
    }
    // RFC 4271 §5: unrecognised transitive attributes we pass on get the Partial bit.
    if (!local && a.unknown) a.unknown = a.unknown.map((u) => ({ ...u, flags: u.flags | AttrFlag.Partial }));
    const applied = applySet(rule, a, hops, () => this.selfHops(peer, family));
    const out = this.interner.intern(applied.attrs, applied.nextHops);
    byKey.set(cacheKey, out);
    return out;
  }

  private scheduleExport(peer: Peer, family: Family, key: RouteKey): void {
    const want = this.exportFor(peer, family, key);
    const have = peer.adjOut.get(family)?.get(key);
    const same =
      want === null
        ? have === undefined
        : have !== undefined &&
          setOf(have) === setOf(want) &&
          String(labelsOf(have)) === String(labelsOf(want));
    const pend = fmap(peer.pending, family);
    if (same) pend.delete(key);
    else pend.set(key, want);
    this.scheduleFlush(peer);
  }

  /** Re-evaluates every Loc-RIB route of a family for one peer (new session, policy change, refresh). */
  private resync(peer: Peer, family: Family): void {
    const keys = new Set<RouteKey>([
      ...(this.locRib.get(family)?.keys() ?? []),
      ...(peer.adjOut.get(family)?.keys() ?? []),
    ]);
    for (const k of keys) this.scheduleExport(peer, family, k);
    this.scheduleFlush(peer);
  }

  private scheduleFlush(peer: Peer): void {
    if (peer.flushing) return;
    peer.flushing = true;
    setImmediate(() => void this.flushLoop(peer));
  }

  /** One flush at a time per peer, so a withdrawal can never overtake the announcement it cancels. */
  private async flushLoop(peer: Peer): Promise<void> {
    try {
      while (peer.pending.size > 0 || peer.eorPending.size > 0) {
        if (!peer.established) {
          peer.pending = new Map();
          break;
        }
        await this.flush(peer);
      }
    } finally {
      peer.flushing = false;
    }
  }

  private async flush(peer: Peer): Promise<void> {
    const ctx = peer.session.codecContext;
    const pending = peer.pending;
    peer.pending = new Map();
    for (const [family, changes] of pending) {
      const out = fmap(peer.adjOut, family);
      const withdrawals: Nlri[] = [];
      const groups = new Map<AttrSet, Nlri[]>();
      for (const [key, v] of changes) {
        if (v === null) {
          if (out.delete(key)) withdrawals.push(keyToNlri(family, key, []));
          continue;
        }
        out.set(key, v);
        const set = setOf(v);
        let g = groups.get(set);
        if (!g) {
          g = [];
          groups.set(set, g);
        }
        g.push(keyToNlri(family, key, labelsOf(v)));
      }
      for (const m of packWithdrawals(family, withdrawals)) peer.session.send(m);
      for (const [set, nlri] of groups) {
        for (const m of packAnnouncements(family, set.attrs, [...set.nextHops], nlri, ctx)) {
          if (!peer.session.send(m)) await peer.session.drain();
        }
      }
    }
    for (const f of peer.eorPending) peer.session.send(endOfRib(f));
    peer.eorPending.clear();
    if (pending.size > 0) this.routesChanged();
  }

  private routesChangePending = false;
  /** One "routes-changed" per turn of the event loop, however many routes moved in it. */
  private routesChanged(): void {
    if (this.routesChangePending) return;
    this.routesChangePending = true;
    setImmediate(() => {
      this.routesChangePending = false;
      this.emit("routes-changed");
    });
  }

  // ---- status and looking glass ----

  peerStatus(address: string): PeerStatus | undefined {
    const p = this.peers.get(address);
    if (!p) return undefined;
    const s = p.session;
    const neg = s.negotiated;
    const prefixes: Partial<Record<Family, FamilyCounters>> = {};
    for (const f of p.families) {
      const accepted = (p.adjIn.get(f)?.size ?? 0) + (p.stale.get(f)?.size ?? 0);
      prefixes[f] = {
        received: accepted + (p.rejected.get(f)?.size ?? 0),
        accepted,
        advertised: p.adjOut.get(f)?.size ?? 0,
      };
    }
    const e = s.lastError;
    return {
      address,
      asn: p.config.asn,
      description: p.config.description,
      state: s.state,
      uptimeSeconds: s.establishedAt ? Math.floor((Date.now() - s.establishedAt.getTime()) / 1000) : 0,
      flaps: s.flaps,
      lastError: e,
      lastErrorWords: e
        ? `${e.direction === "local" ? "" : `${e.direction}: `}${e.words}${e.detail ? ` (${e.detail})` : ""}`
        : undefined,
      prefixes,
      negotiated: neg && {
        families: neg.families,
        as4: neg.as4,
        routeRefresh: neg.routeRefresh,
        extendedNextHop: neg.extendedNextHop,
        gracefulRestart: !!neg.peerGracefulRestart,
        holdTime: neg.holdTime,
        keepalive: neg.keepalive,
        peerRouterId: neg.peerRouterId,
        localAddress: neg.localAddress,
      },
    };
  }

  status(): PeerStatus[] {
    return [...this.peers.keys()].map((a) => this.peerStatus(a)!);
  }

  private view(family: Family, key: RouteKey, v: RouteValue, extra: Partial<RouteView> = {}): RouteView {
    const set = setOf(v);
    const a = set.attrs;
    const n = keyToNlri(family, key, labelsOf(v));
    return {
      prefix: n.prefix,
      ...(n.rd ? { rd: n.rd, labels: n.labels } : {}),
      nextHops: [...set.nextHops],
      origin: a.origin,
      asPath: (a.asPath ?? []).flatMap((s) => s.asns),
      med: a.med,
      localPref: a.localPref,
      communities: (a.communities ?? []).map(formatCommunity),
      largeCommunities: [...(a.largeCommunities ?? [])],
      extendedCommunities: (a.extendedCommunities ?? []).map(formatExtendedCommunity),
      prefixSid: a.prefixSid,
      ...extra,
    };
  }

  /** Routes accepted from a peer (post import policy), including stale ones kept for graceful restart. */
  receivedRoutes(address: string, family: Family): RouteView[] {
    const p = this.peers.get(address);
    if (!p) return [];
    const out: RouteView[] = [];
    for (const [k, v] of p.adjIn.get(family) ?? []) out.push(this.view(family, k, v));
    for (const [k, v] of p.stale.get(family) ?? []) out.push(this.view(family, k, v, { stale: true }));
    return out;
  }

  advertisedRoutes(address: string, family: Family): RouteView[] {
    const p = this.peers.get(address);
    return [...(p?.adjOut.get(family) ?? [])].map(([k, v]) => this.view(family, k, v));
  }

  bestRoutes(family: Family): RouteView[] {
    return [...(this.locRib.get(family) ?? [])].map(([k, src]) =>
      this.view(family, k, this.lookup(src, family, k)!, {
        from: src === "local" ? "local" : src.config.address,
      }),
    );
  }

  /** The Loc-RIB best path of one prefix, in the shape of the "best-path" event. */
  bestPath(family: Family, prefix: string, rd?: string): BestPath | undefined {
    return this.bestOf(family, prefixKey(family, { prefix: canonicalPrefix(prefix), rd }));
  }

  /** Route counts without building views (cheap enough to poll during a full-table load). */
  counts(family: Family): { locRib: number; attributeSets: number } {
    return { locRib: this.locRib.get(family)?.size ?? 0, attributeSets: this.interner.size };
  }

  /**
   * The first `limit` routes of a peer's Adj-RIB-In (with stale ones) or Adj-RIB-Out in prefix
   * order — by RD, then address numerically, then length — and the table's size. Only those routes
   * are rendered, so a looking glass of a full table costs a sort of keys, not a million views.
   */
  firstRoutes(
    address: string,
    family: Family,
    direction: "received" | "advertised",
    limit: number,
  ): { total: number; routes: RouteView[] } {
    const p = this.peers.get(address);
    if (!p) return { total: 0, routes: [] };
    const fresh = (direction === "received" ? p.adjIn : p.adjOut).get(family);
    const stale = direction === "received" ? p.stale.get(family) : undefined;
    const total = (fresh?.size ?? 0) + (stale?.size ?? 0);
    const keys = [...(fresh?.keys() ?? []), ...(stale?.keys() ?? [])];
    if (family === "ipv4-unicast") (keys as number[]).sort((a, b) => a - b);
    else {
      const order = new Map(keys.map((k) => [k, sortableKey(family, k)]));
      keys.sort((a, b) => (order.get(a)! < order.get(b)! ? -1 : order.get(a)! > order.get(b)! ? 1 : 0));
    }
    const routes: RouteView[] = [];
    for (const k of keys.slice(0, limit)) {
      const v = fresh?.get(k);
      if (v) routes.push(this.view(family, k, v));
      else routes.push(this.view(family, k, stale!.get(k)!, { stale: true }));
    }
    return { total, routes };
  }
}

/** A string that sorts like the prefix: RD, then the address as hex digits, then the length. */
function sortableKey(family: Family, key: RouteKey): string {
  const n = keyToNlri(family, key);
  const slash = n.prefix.indexOf("/");
  const addr = n.prefix.slice(0, slash);
  const bytes = isIpv6(addr) ? parseIpv6(addr) : parseIpv4(addr);
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return `${n.rd ?? ""}\u0000${hex}${n.prefix.slice(slash + 1).padStart(3, "0")}`;
}
