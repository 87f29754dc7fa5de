import type net from "node:net";
import type { Capabilities } from "../codec/capabilities.js";
import type { Family } from "../codec/families.js";

export type SessionState = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

/**
 * Socket hooks. TCP-MD5 (RFC 2385) and TTL need setsockopt calls Node does not expose; the native
 * addon supplies them here so this package stays pure TypeScript.
 */
export interface Transport {
  /** Opens the active connection (default: net.connect). */
  connect?(opts: { host: string; port: number; localAddress?: string }): net.Socket;
  /**
   * Runs on an active connection's fd before the SYN is sent — where TCP-MD5 keys must go
   * (e.g. native.setTcpMd5Sig(fd, peer, key)). Ignored when `connect` is supplied.
   */
  beforeConnect?(fd: number, peer: { address: string; ttl: number; md5Password?: string }): void;
  /** Called on every connected socket, active or accepted (e.g. to set IP_TTL for eBGP multihop). */
  configureSocket?(socket: net.Socket, peer: { address: string; ttl: number; md5Password?: string }): void;
  /**
   * Called on the listening server whenever peers change, with every configured peer (MD5 keys go
   * on the listener) and the addresses whose key must come off (their password was removed).
   */
  configureServer?(
    server: net.Server,
    peers: { address: string; md5Password?: string }[],
    removedKeys?: string[],
  ): void;
}

export interface GracefulRestartConfig {
  /** Seconds a peer should keep our routes while we restart (RFC 4724 Restart Time). */
  restartTime: number;
  /**
   * Always set the R bit on this peer's OPENs. Prefer the speaker's `gracefulRestart.restarting`,
   * which also defers selection and clears the bit once the restart is over (RFC 4724 §4.1).
   */
  restarting?: boolean;
  /** Forwarding state preserved for our families (F bit). */
  forwardingPreserved?: boolean;
}

export interface SessionTimers {
  /** Proposed hold time; 0 disables keepalives, otherwise at least 3 (RFC 4271 §4.2). */
  holdTime: number;
  connectRetry: number;
}

export interface NegotiatedSession {
  families: Family[];
  as4: boolean;
  routeRefresh: boolean;
  extendedNextHop: Family[];
  holdTime: number;
  keepalive: number;
  peerGracefulRestart?: Capabilities["gracefulRestart"];
  peerAs: number;
  peerRouterId: string;
  localAddress: string;
  remoteCapabilities: Capabilities;
}
