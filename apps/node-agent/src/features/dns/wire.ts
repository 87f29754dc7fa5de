// What the agent and its DNS proxy process (proxy-process.ts) say to each other over the unix
// socket <stateDir>/dns-proxy.sock: one JSON object per line. The proxy outlives the agent, so
// both ends check PROXY_PROTOCOL: an agent meeting a proxy that speaks another one replaces it.
import type net from "node:net";
import type { NodeDesiredState } from "../../sync/channel.js";
import type { LearnedAddress } from "./message.js";
import type { DnsProxyStats, DnsQueryEvent } from "./proxy.js";

/** Bumped on any change to the messages below. */
export const PROXY_PROTOCOL = 1;

export const PROXY_SOCKET = "dns-proxy.sock";
export const PROXY_PID_FILE = "dns-proxy.pid";
export const PROXY_LOG_FILE = "dns-proxy.log";

/** What the agent's configuration sets in a running proxy (each agent's ack applies its own). */
export interface ProxySettings {
  datapathTimeoutMs: number;
  upstreamTimeoutMs: number;
  deniedResponse: "REFUSED" | "NXDOMAIN";
  minTtlSeconds: number;
  /** Exit after this long with no agent connected (from start, or from the last agent leaving). */
  orphanTimeoutMs: number;
  /** Addresses learned with no agent connected that the proxy remembers for the next one. */
  maxOrphaned: number;
}

/** What a proxy is started with; `port` and `hosts` cannot change in a running one. */
export interface ProxyProcessOptions extends ProxySettings {
  stateDir: string;
  pinDir: string;
  port: number;
  hosts: string[];
  logLevel: string;
  /** The version of the agent that started it (status shows it). */
  startedBy: string;
}

/** The desired state of one endpoint as far as the proxy needs it (compileEndpointDns's input). */
export type ProxyEndpointRules = Pick<
  NodeDesiredState["endpoints"][number],
  "namespace" | "name" | "ipv4" | "ipv6" | "dnsRules" | "fqdnSelectors"
>;

/** One answer's addresses for an endpoint under the selectors' identities (cache.learnAnswer's input). */
export interface ProxyAnswer {
  endpointId: string;
  endpointAddresses: string[];
  identities: number[];
  names: string[];
  addresses: LearnedAddress[];
}

/** An answer the proxy learned while no agent was connected, with absolute expiry times. */
export interface OrphanAnswer extends Omit<ProxyAnswer, "addresses"> {
  addresses: { address: string; expiresAt: number }[];
}

export type ProxyToAgent =
  | {
      t: "hello";
      protocol: number;
      pid: number;
      /** ISO time the proxy process started. */
      since: string;
      /** The version of the agent that started it. */
      startedBy: string;
      port: number;
      hosts: string[];
      /**
       * Answers released that no agent has on disk yet (learned with no agent connected, or claimed
       * through an agent that went before saving them): in the ipcache, the agent must own them.
       */
      orphaned: OrphanAnswer[];
      /** The highest answer id so far: the agent's first save covers everything handed over. */
      lastId: number;
      /** Queries answered while no agent was connected (the last 1,000). */
      events: DnsQueryEvent[];
      stats: DnsProxyStats;
      /** Whether it holds rules (an agent gave it some) — a fresh proxy holds none. */
      hasRules: boolean;
    }
  | ({ t: "learn"; id: number } & ProxyAnswer)
  /** `fallbacks`: answers whose addresses the proxy wrote itself because the agent's reply was late. */
  | { t: "event"; event: DnsQueryEvent; stats: DnsProxyStats; fallbacks: number; eventsDropped: number };

export type AgentToProxy =
  /** The hello was read: what it handed over is the agent's now. */
  | { t: "ack"; settings: ProxySettings }
  | { t: "rules"; endpoints: ProxyEndpointRules[] }
  | { t: "learned"; id: number; error?: string }
  /** Every answer up to id `upTo` is in the agent's learned-address file: the proxy may forget them. */
  | { t: "saved"; upTo: number }
  /** The agent is stopping: the proxy keeps answering and waits for the next one (orphan bound). */
  | { t: "bye" }
  /** Stopped for good (`meridian-agent stop`), or replaced by a proxy of another protocol: exit now. */
  | { t: "exit" };

/** Calls `onMessage` for every line `socket` delivers; a line that does not parse ends the socket. */
export function readLines<T>(socket: net.Socket, onMessage: (m: T) => void): void {
  let buf = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line) continue;
      let m: T;
      try {
        m = JSON.parse(line) as T;
      } catch {
        socket.destroy(new Error("a line that is not JSON"));
        return;
      }
      onMessage(m);
    }
  });
}

export function send(socket: net.Socket, m: ProxyToAgent | AgentToProxy): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(m)}\n`);
}

/** Whether `pid` runs and is a DNS proxy (its command line says so): a stale pid file must not name a stranger. */
export function isProxyProcess(pid: number, readCmdline: (pid: number) => string): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return readCmdline(pid).split("\0").includes("dns-proxy");
}
