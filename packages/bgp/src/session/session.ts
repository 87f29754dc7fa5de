import { EventEmitter } from "node:events";
import net from "node:net";
import type { CodecContext } from "../codec/attributes.js";
import { AS_TRANS } from "../codec/attributes.js";
import type { Capabilities } from "../codec/capabilities.js";
import { CeaseSubcode, DecodeError, notificationWords } from "../codec/errors.js";
import type { Family } from "../codec/families.js";
import {
  decode,
  encode,
  frameLength,
  type Message,
  type OpenMessage,
  type UpdateMessage,
} from "../codec/messages.js";
import { jitter, Timer } from "./timer.js";
import { connectWithHook } from "./transport.js";
import type { GracefulRestartConfig, NegotiatedSession, SessionState, Transport } from "./types.js";

export interface SessionConfig {
  localAs: number;
  routerId: string;
  peerAddress: string;
  peerAs: number;
  port?: number;
  localAddress?: string;
  /** Never open connections; wait for the peer (RFC 4271 PassiveTcpEstablishment). */
  passive?: boolean;
  families: Family[];
  holdTime?: number;
  /**
   * KEEPALIVE interval in seconds; default and maximum a third of the negotiated hold time
   * (RFC 4271 §4.4, §10).
   */
  keepalive?: number;
  connectRetry?: number;
  /** IP TTL for the session (1 for directly connected eBGP; more for multihop). Applied via the transport. */
  ttl?: number;
  md5Password?: string;
  gracefulRestart?: GracefulRestartConfig;
  /** Offer RFC 8950 IPv4 NLRI with IPv6 next hops. */
  extendedNextHop?: boolean;
  transport?: Transport;
  /**
   * Asked at every OPEN: set the graceful-restart R bit (RFC 4724 §4.1). The speaker answers true
   * only until its selection deferral after a restart ends, so a later session reset does not
   * claim a restart again.
   */
  restartState?: () => boolean;
}

const NO_ANSWER = "No answer to TCP connect";

export interface SessionError {
  /** Who sent the NOTIFICATION; "local" for transport or timer events without one. */
  direction: "sent" | "received" | "local";
  code?: number;
  subcode?: number;
  /** What an operator reads: "OPEN Message Error / Bad Peer AS". */
  words: string;
  detail?: string;
  at: Date;
}

type ConnState = "Connect" | "OpenSent" | "OpenConfirm" | "Established";

interface Connection {
  socket: net.Socket;
  inbound: boolean;
  state: ConnState;
  pending: Buffer;
  hold: Timer;
  keepalive: Timer;
  open?: OpenMessage;
  negotiated?: NegotiatedSession;
  ctx: CodecContext;
  closed: boolean;
}

const rank: Record<SessionState, number> = {
  Idle: 0,
  Active: 1,
  Connect: 2,
  OpenSent: 3,
  OpenConfirm: 4,
  Established: 5,
};

/**
 * One peer's RFC 4271 finite state machine. It may hold two TCP connections at once (ours and the
 * peer's) until collision detection (§6.8) keeps one. Everything it learns is reported as events;
 * routing decisions live in the speaker.
 */
export class Session extends EventEmitter {
  state: SessionState = "Idle";
  negotiated?: NegotiatedSession;
  lastError?: SessionError;
  establishedAt?: Date;
  flaps = 0;
  private conns = new Set<Connection>();
  private running = false;
  private readonly connectRetry = new Timer(() => this.onConnectRetry());

  constructor(public config: SessionConfig) {
    super();
  }

  get holdTime(): number {
    const h = this.config.holdTime ?? 90;
    return h === 0 ? 0 : Math.max(3, h);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.setState(this.config.passive ? "Active" : "Connect");
    if (!this.config.passive) this.connect();
  }

  /** Administrative stop: Cease / Administrative Shutdown to the peer, then Idle. */
  stop(subcode: number = CeaseSubcode.AdministrativeShutdown, opts: { graceful?: boolean } = {}): void {
    this.running = false;
    this.connectRetry.stop();
    for (const c of [...this.conns]) {
      // RFC 4724 restarting speaker: vanish without a NOTIFICATION so the peer keeps our routes.
      if (opts.graceful) {
        c.socket.destroy();
        this.drop(c, { direction: "local", words: "Stopped for graceful restart", at: new Date() });
      } else this.closeWith(c, 6, subcode, "administratively stopped");
    }
    this.setState("Idle");
  }

  /** Administrative reset: drop the session now and let the FSM bring it back. */
  reset(subcode: number = CeaseSubcode.AdministrativeReset): void {
    for (const c of [...this.conns]) this.closeWith(c, 6, subcode, "administratively reset");
  }

  /** The speaker hands us sockets the listener accepted from this peer's address. */
  accept(socket: net.Socket): void {
    if (!this.running) {
      socket.destroy();
      return;
    }
    const est = [...this.conns].find((c) => c.state === "Established");
    if (est) {
      if (est.negotiated?.peerGracefulRestart) {
        // RFC 4724 §4.2: a new connection from a restarting peer replaces the old session; its routes stay (stale).
        this.drop(
          est,
          { direction: "local", words: "Peer restarted (graceful restart)", at: new Date() },
          true,
        );
      } else {
        this.sendNotification(socket, 6, CeaseSubcode.ConnectionCollisionResolution);
        socket.destroy();
        return;
      }
    }
    this.attach(socket, true);
    this.sendOpen(this.last());
  }

  /** Queues bytes on the established connection; false means wait for 'drain'. */
  send(bytes: Buffer): boolean {
    const c = this.established();
    if (!c) return false;
    return c.socket.write(bytes);
  }

  /** Resolves once the socket has flushed (or immediately when nothing is queued). */
  drain(): Promise<void> {
    const c = this.established();
    if (!c?.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        c.socket.off("drain", done);
        c.socket.off("close", done);
        resolve();
      };
      c.socket.on("drain", done);
      c.socket.on("close", done);
    });
  }

  sendMessage(m: Message): boolean {
    const c = this.established();
    if (!c) return false;
    return c.socket.write(encode(m, c.ctx));
  }

  get codecContext(): CodecContext {
    return this.established()?.ctx ?? { as4: true };
  }

  private established(): Connection | undefined {
    for (const c of this.conns) if (c.state === "Established") return c;
    return undefined;
  }

  private last(): Connection {
    return [...this.conns].at(-1)!;
  }

  private connect(): void {
    const { peerAddress, port = 179, localAddress, transport } = this.config;
    let socket: net.Socket;
    if (transport?.connect) socket = transport.connect({ host: peerAddress, port, localAddress });
    else if (transport?.beforeConnect) {
      const hook = transport.beforeConnect;
      socket = connectWithHook({ host: peerAddress, port, localAddress }, (fd) =>
        hook(fd, this.peerSocketInfo()),
      );
    } else socket = net.connect({ host: peerAddress, port, localAddress });
    const c = this.attach(socket, false);
    socket.once("connect", () => {
      if (c.closed) return;
      transport?.configureSocket?.(socket, this.peerSocketInfo());
      this.sendOpen(c);
    });
    this.connectRetry.start(jitter(this.config.connectRetry ?? 120));
  }

  private peerSocketInfo() {
    return {
      address: this.config.peerAddress,
      ttl: this.config.ttl ?? 64,
      md5Password: this.config.md5Password,
    };
  }

  private attach(socket: net.Socket, inbound: boolean): Connection {
    const c: Connection = {
      socket,
      inbound,
      state: "Connect",
      pending: Buffer.alloc(0),
      hold: new Timer(() => this.closeWith(c, 4, 0, "hold timer expired")),
      keepalive: new Timer(() => this.onKeepaliveTimer(c)),
      ctx: { as4: true },
      closed: false,
    };
    this.conns.add(c);
    socket.setNoDelay(true);
    if (inbound) this.config.transport?.configureSocket?.(socket, this.peerSocketInfo());
    socket.on("data", (chunk: Buffer) => this.onData(c, chunk));
    socket.on("error", (err) => {
      if (!c.closed && c.state !== "Connect") {
        this.lastError = {
          direction: "local",
          words: "Connection error",
          detail: err.message,
          at: new Date(),
        };
      } else if (!c.closed && !this.lastError) {
        this.lastError = {
          direction: "local",
          words: "Connection failed",
          detail: err.message,
          at: new Date(),
        };
      }
    });
    socket.on("close", () => this.onClose(c));
    this.updateState();
    return c;
  }

  private sendOpen(c: Connection): void {
    const cfg = this.config;
    const caps: Capabilities = { multiprotocol: [...cfg.families], routeRefresh: true, as4: cfg.localAs };
    if (cfg.extendedNextHop) {
      caps.extendedNextHop = cfg.families
        .filter((f) => f === "ipv4-unicast" || f === "ipv4-vpn")
        .map((family) => ({ family, nextHopAfi: 2 }));
    }
    if (cfg.gracefulRestart) {
      caps.gracefulRestart = {
        restarting: !!cfg.gracefulRestart.restarting || !!cfg.restartState?.(),
        notification: false,
        time: cfg.gracefulRestart.restartTime,
        families: cfg.families.map((family) => ({
          family,
          forwardingPreserved: !!cfg.gracefulRestart?.forwardingPreserved,
        })),
      };
    }
    const open: OpenMessage = {
      type: "open",
      version: 4,
      myAs: cfg.localAs > 0xffff ? AS_TRANS : cfg.localAs,
      holdTime: this.holdTime,
      bgpId: cfg.routerId,
      capabilities: caps,
    };
    c.socket.write(encode(open));
    c.state = "OpenSent";
    // RFC 4271 §8: a large hold time (4 minutes) until the peer's OPEN arrives.
    c.hold.start(240);
    this.updateState();
  }

  private onData(c: Connection, chunk: Buffer): void {
    if (c.closed) return;
    c.pending = c.pending.length === 0 ? chunk : Buffer.concat([c.pending, chunk]);
    let off = 0;
    try {
      while (!c.closed) {
        const len = frameLength(c.pending, off);
        if (len === 0) break;
        const m = decode(c.pending, off, c.ctx);
        off += len;
        this.onMessage(c, m);
      }
    } catch (e) {
      // Malformed input never escapes the socket handler: it becomes a NOTIFICATION.
      if (e instanceof DecodeError) this.closeWith(c, e.code, e.subcode, e.message, e.data);
      else this.closeWith(c, 6, 8, `internal error: ${(e as Error).message}`);
      return;
    }
    c.pending = off >= c.pending.length ? Buffer.alloc(0) : c.pending.subarray(off);
  }

  private onMessage(c: Connection, m: Message): void {
    if (m.type === "notification") {
      this.drop(c, {
        direction: "received",
        code: m.code,
        subcode: m.subcode,
        words: notificationWords(m.code, m.subcode),
        detail: m.data.length > 0 ? m.data.toString("hex") : undefined,
        at: new Date(),
      });
      return;
    }
    switch (c.state) {
      case "OpenSent":
        if (m.type !== "open") {
          this.closeWith(c, 5, 1, `${m.type} in OpenSent`);
          return;
        }
        this.onOpen(c, m);
        return;
      case "OpenConfirm":
        if (m.type !== "keepalive") {
          this.closeWith(c, 5, 2, `${m.type} in OpenConfirm`);
          return;
        }
        this.onEstablished(c);
        return;
      case "Established":
        if (c.negotiated!.holdTime > 0) c.hold.start(c.negotiated!.holdTime);
        if (m.type === "update") this.emit("update", m as UpdateMessage);
        else if (m.type === "route-refresh") this.emit("route-refresh", m.family);
        else if (m.type === "open") this.closeWith(c, 5, 3, "OPEN in Established");
        return;
      default:
        this.closeWith(c, 5, 0, `${m.type} before OPEN was sent`);
        return;
    }
  }

  private onOpen(c: Connection, open: OpenMessage): void {
    const cfg = this.config;
    const caps = open.capabilities;
    const peerAs = caps.as4 ?? open.myAs;
    if (peerAs !== cfg.peerAs) {
      const data = Buffer.alloc(2);
      data.writeUInt16BE(open.myAs);
      this.closeWith(c, 2, 2, `peer AS ${peerAs}, expected ${cfg.peerAs}`, data);
      return;
    }
    if (open.bgpId === "0.0.0.0" || (open.bgpId === cfg.routerId && peerAs === cfg.localAs)) {
      this.closeWith(c, 2, 3, `peer BGP identifier ${open.bgpId}`);
      return;
    }
    // Collision detection (§6.8): now that we know the peer's identifier, settle any other connection.
    for (const other of this.conns) {
      if (other === c || other.closed) continue;
      if (other.state === "Established") {
        this.closeWith(c, 6, CeaseSubcode.ConnectionCollisionResolution, "collision");
        return;
      }
      if (other.state === "OpenSent" || other.state === "OpenConfirm") {
        const localWins = ipNum(cfg.routerId) > ipNum(open.bgpId);
        // The higher identifier keeps the connection it initiated.
        const loser = localWins ? (c.inbound ? c : other) : c.inbound ? other : c;
        this.closeWith(loser, 6, CeaseSubcode.ConnectionCollisionResolution, "connection collision");
        if (loser === c) return;
      }
    }
    const offered = caps.multiprotocol ?? ["ipv4-unicast"];
    const holdTime = open.holdTime === 0 || this.holdTime === 0 ? 0 : Math.min(open.holdTime, this.holdTime);
    c.open = open;
    c.ctx = { as4: caps.as4 !== undefined };
    c.negotiated = {
      families: cfg.families.filter((f) => offered.includes(f)),
      as4: caps.as4 !== undefined,
      routeRefresh: !!caps.routeRefresh,
      extendedNextHop: cfg.extendedNextHop
        ? (caps.extendedNextHop ?? []).filter((e) => e.nextHopAfi === 2).map((e) => e.family)
        : [],
      holdTime,
      keepalive:
        holdTime === 0 ? 0 : Math.min(Math.floor(holdTime / 3), cfg.keepalive || Number.POSITIVE_INFINITY),
      peerGracefulRestart: caps.gracefulRestart,
      peerAs,
      peerRouterId: open.bgpId,
      localAddress: (c.socket.localAddress ?? "").replace(/^::ffff:/, ""),
      remoteCapabilities: caps,
    };
    c.socket.write(encode({ type: "keepalive" }));
    c.state = "OpenConfirm";
    if (holdTime > 0) {
      c.hold.start(holdTime);
      c.keepalive.start(c.negotiated.keepalive);
    } else c.hold.stop();
    this.updateState();
  }

  private onEstablished(c: Connection): void {
    c.state = "Established";
    this.connectRetry.stop();
    for (const other of [...this.conns]) {
      if (other !== c) this.closeWith(other, 6, CeaseSubcode.ConnectionCollisionResolution, "collision");
    }
    if (c.negotiated!.holdTime > 0) c.hold.start(c.negotiated!.holdTime);
    this.negotiated = c.negotiated;
    this.establishedAt = new Date();
    this.updateState();
    this.emit("established", c.negotiated);
  }

  private onKeepaliveTimer(c: Connection): void {
    if (c.closed || !c.negotiated) return;
    c.socket.write(encode({ type: "keepalive" }));
    c.keepalive.start(c.negotiated.keepalive);
  }

  private sendNotification(
    socket: net.Socket,
    code: number,
    subcode: number,
    data: Buffer = Buffer.alloc(0),
  ): void {
    if (!socket.destroyed && socket.writable)
      socket.write(encode({ type: "notification", code, subcode, data }));
  }

  private closeWith(c: Connection, code: number, subcode: number, detail: string, data?: Buffer): void {
    if (c.closed) return;
    if (c.state !== "Connect") this.sendNotification(c.socket, code, subcode, data);
    const collision = code === 6 && subcode === CeaseSubcode.ConnectionCollisionResolution;
    this.drop(
      c,
      {
        direction: c.state === "Connect" ? "local" : "sent",
        code,
        subcode,
        words: notificationWords(code, subcode),
        detail,
        at: new Date(),
      },
      false,
      collision,
    );
  }

  /** Tears one connection down; if it carried the session, reports the session down. */
  private drop(c: Connection, err: SessionError, peerRestarting = false, quiet = false): void {
    if (c.closed) return;
    c.closed = true;
    c.hold.stop();
    c.keepalive.stop();
    this.conns.delete(c);
    if (!quiet) this.lastError = err;
    c.socket.end();
    // end() flushes a NOTIFICATION; destroy shortly after so a silent peer cannot hold the fd.
    setTimeout(() => c.socket.destroy(), 500).unref();
    if (c.state === "Established") {
      this.flaps++;
      this.negotiated = undefined;
      this.establishedAt = undefined;
      // RFC 4724 helper: keep routes unless the peer told us why it left (a NOTIFICATION).
      const graceful = !!c.negotiated?.peerGracefulRestart && (peerRestarting || err.direction === "local");
      const gr = c.negotiated?.peerGracefulRestart;
      this.emit("down", {
        error: err,
        graceful,
        restartTime: gr?.time ?? 0,
        // RFC 4724 §4.2: only the families the peer listed in its capability are kept as stale.
        families: gr?.families.map((f) => f.family) ?? [],
      });
    }
    this.updateState();
    if (this.running && this.conns.size === 0 && !this.config.passive && !this.connectRetry.running) {
      this.connectRetry.start(jitter(Math.min(this.config.connectRetry ?? 120, 5)));
    }
  }

  private onClose(c: Connection): void {
    if (c.closed) return;
    this.drop(c, {
      direction: "local",
      words: c.state === "Connect" ? "Connection failed" : "Connection closed by peer",
      detail: this.lastError?.detail,
      at: new Date(),
    });
  }

  private onConnectRetry(): void {
    if (!this.running || this.config.passive) return;
    const outbound = [...this.conns].filter((c) => !c.inbound);
    if (outbound.length > 0) {
      // A connect unanswered for a whole retry interval: the peer's kernel drops our SYNs (down,
      // filtered, or a TCP-MD5 key that does not match, which it drops silently). TCP itself
      // would take minutes to give up, so say it now.
      if (outbound.some((c) => c.socket.connecting) && this.lastError?.words !== NO_ANSWER) {
        this.lastError = {
          direction: "local",
          words: NO_ANSWER,
          detail: this.config.md5Password
            ? "TCP-MD5 is set: a password that differs from the peer's looks like this"
            : "peer down or unreachable, or TCP port blocked",
          at: new Date(),
        };
      }
      this.connectRetry.start(jitter(this.config.connectRetry ?? 120));
      return;
    }
    if (this.established()) return;
    this.connect();
  }

  private updateState(): void {
    let best: SessionState = this.running ? (this.config.passive ? "Active" : "Connect") : "Idle";
    if (this.running && !this.config.passive && this.conns.size === 0) best = "Active";
    for (const c of this.conns) if (rank[c.state] > rank[best]) best = c.state;
    this.setState(best);
  }

  private setState(s: SessionState): void {
    if (s === this.state) return;
    const prev = this.state;
    this.state = s;
    this.emit("state", s, prev);
  }
}

function ipNum(ip: string): number {
  return ip.split(".").reduce((n, p) => n * 256 + Number(p), 0);
}
