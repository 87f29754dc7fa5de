// The DNS proxy as its own process (`meridian-agent dns-proxy`, started detached by the agent's
// supervisor.ts): it holds the sockets on :10053, so queries keep being answered while the agent
// is killed, restarted or upgraded. It keeps the last rules an agent gave it. While an agent is
// connected, an allowed answer's addresses are claimed through it (the policy datapath's ipcache
// owner table) and the answer waits for its reply; while none is, the proxy writes the pinned
// ipcache itself — only addresses the map does not hold yet, so it never changes an entry another
// owner wrote — and hands those answers to the next agent, which takes them over as its claims.
// With no agent for `orphanTimeoutMs` it exits: it must not run forever without one.
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import pino from "pino";
import { ipcacheInfo, ipcacheKeyOf } from "../../datapath/index.js";
import { openPinnedMaps } from "../../datapath/maps.js";
import { DnsKernel } from "./kernel.js";
import type { LearnedAddress } from "./message.js";
import { DnsProxy, type DnsQueryEvent } from "./proxy.js";
import { compileEndpointDns, type EndpointDnsPolicy } from "./rules.js";
import {
  type AgentToProxy,
  type OrphanAnswer,
  PROXY_PID_FILE,
  PROXY_PROTOCOL,
  PROXY_SOCKET,
  type ProxyAnswer,
  type ProxyProcessOptions,
  type ProxySettings,
  readLines,
  send,
} from "./wire.js";

const MAX_ORPHAN_EVENTS = 1000;
/** Unsent bytes to the agent past which query events are dropped (counted) rather than queued. */
const MAX_EVENT_BACKLOG_BYTES = 1 << 20;

export async function runDnsProxy(options: ProxyProcessOptions): Promise<number> {
  const o = { ...options };
  const log = pino({ level: o.logLevel, base: { component: "dns-proxy", pid: process.pid } });
  const since = new Date().toISOString();
  const kernel = DnsKernel.open(o.pinDir);
  const { mdp_ipcache: ipcache } = openPinnedMaps(o.pinDir, ["mdp_ipcache"] as const);
  let policies = new Map<string, EndpointDnsPolicy>();
  let hasRules = false;
  let agent: net.Socket | undefined;
  /** The agent has read the hello: what it carried is the agent's now. */
  let agentAcked = false;
  let nextId = 1;
  const pending = new Map<number, { answer: ProxyAnswer; resolve(): void; reject(e: Error): void }>();
  /**
   * Released answers no agent has saved yet, by id: learned alone, or claimed through an agent
   * that has not written them to its file. The next agent's hello carries them.
   */
  const unsaved = new Map<number, OrphanAnswer>();
  let unsavedAddresses = 0;
  let orphanEvents: DnsQueryEvent[] = [];
  let orphanTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  /** Answers whose addresses the proxy wrote because the agent's reply was late. */
  let fallbacks = 0;
  /** Query events not sent because the agent fell behind. */
  let eventsDropped = 0;

  /**
   * The addresses into the pinned ipcache here, each only where the map holds nothing for it yet:
   * an entry another owner (the control plane, an earlier claim) wrote is never changed.
   */
  const writeAlone = (a: ProxyAnswer): void => {
    const identity = Math.min(...a.identities);
    const value = ipcacheInfo.encode({ identity, flags: 0 });
    for (const { address } of a.addresses) {
      const key = ipcacheKeyOf(address);
      if (!ipcache.lookup(key)) ipcache.update(key, value);
    }
  };

  /** No agent: written here, and remembered for the next agent to take over as its claims. */
  const learnAlone = (id: number, a: ProxyAnswer): void => {
    writeAlone(a);
    remember(id, a);
  };

  /** A released answer, kept until an agent says it saved it. */
  function remember(id: number, a: ProxyAnswer): void {
    const now = Date.now();
    unsaved.set(id, {
      ...a,
      addresses: a.addresses.map((x) => ({
        address: x.address,
        expiresAt: now + Math.max(x.ttl, o.minTtlSeconds) * 1000,
      })),
    });
    unsavedAddresses += a.addresses.length;
    // Bounded: the oldest are forgotten (the next agent's full sync then withdraws them).
    for (const [k, v] of unsaved) {
      if (unsavedAddresses <= o.maxOrphaned || unsaved.size <= 1) break;
      unsaved.delete(k);
      unsavedAddresses -= v.addresses.length;
    }
  }

  const proxy = new DnsProxy(
    {
      policyFor: (address) => policies.get(address),
      originalDestination: (address, sport, protocol) => kernel.originalDestination(address, sport, protocol),
      learn: (policy, identities, names, addresses: LearnedAddress[]) => {
        const answer: ProxyAnswer = {
          endpointId: policy.endpointId,
          endpointAddresses: policy.addresses,
          identities,
          names,
          addresses,
        };
        const id = nextId++;
        if (!agent) {
          learnAlone(id, answer);
          return Promise.resolve();
        }
        return new Promise<void>((resolve, reject) => {
          // An agent that is starting (or stalled) may answer late: after half the bound the proxy
          // writes the addresses itself and releases the answer; the agent still claims them when
          // it reads the request, so they become its claims all the same.
          const fallback = setTimeout(
            () => {
              if (!pending.delete(id)) return;
              try {
                writeAlone(answer);
                remember(id, answer);
                fallbacks++;
                resolve();
              } catch (err) {
                reject(err as Error);
              }
            },
            Math.max(1, Math.floor(o.datapathTimeoutMs / 2)),
          );
          pending.set(id, {
            answer,
            resolve: () => {
              clearTimeout(fallback);
              remember(id, answer);
              resolve();
            },
            reject: (e) => {
              clearTimeout(fallback);
              reject(e);
            },
          });
          send(agent!, { t: "learn", id, ...answer });
        });
      },
    },
    {
      datapathTimeoutMs: o.datapathTimeoutMs,
      upstreamTimeoutMs: o.upstreamTimeoutMs,
      deniedResponse: o.deniedResponse,
      log,
    },
  );
  proxy.onEvent = (event) => {
    if (agent && agentAcked) {
      // Events are best effort: an agent that reads slower than queries arrive must not make the
      // proxy buffer without bound (claims are never dropped; they are what the answers wait for).
      if (agent.writableLength > MAX_EVENT_BACKLOG_BYTES) eventsDropped++;
      else send(agent, { t: "event", event, stats: proxy.stats, fallbacks, eventsDropped });
    } else {
      orphanEvents.push(event);
      if (orphanEvents.length > MAX_ORPHAN_EVENTS) orphanEvents.shift();
    }
  };

  const configure = (s: ProxySettings) => {
    Object.assign(o, s);
    proxy.configure({
      datapathTimeoutMs: s.datapathTimeoutMs,
      upstreamTimeoutMs: s.upstreamTimeoutMs,
      deniedResponse: s.deniedResponse,
    });
  };

  const pidFile = path.join(o.stateDir, PROXY_PID_FILE);
  const socketPath = path.join(o.stateDir, PROXY_SOCKET);
  const server = net.createServer((sock) => adoptAgent(sock));

  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "dns proxy exiting");
    clearTimeout(orphanTimer);
    server.close();
    agent?.destroy();
    await proxy.close();
    try {
      if (Number(readFileSync(pidFile, "utf8")) === process.pid) {
        unlinkSync(pidFile);
        unlinkSync(socketPath);
      }
    } catch {
      // Already gone.
    }
    kernel.close();
    ipcache.close();
    process.exit(0);
  };

  const waitForAgent = () => {
    clearTimeout(orphanTimer);
    orphanTimer = setTimeout(() => void shutdown(`no agent for ${o.orphanTimeoutMs} ms`), o.orphanTimeoutMs);
  };

  function adoptAgent(sock: net.Socket): void {
    // A new agent replaces the old connection (the old agent is gone or going).
    if (agent) agent.destroy();
    agent = sock;
    agentAcked = false;
    clearTimeout(orphanTimer);
    log.info({ unsaved: unsaved.size, events: orphanEvents.length }, "an agent connected");
    send(sock, {
      t: "hello",
      protocol: PROXY_PROTOCOL,
      pid: process.pid,
      since,
      startedBy: o.startedBy,
      port: o.port,
      hosts: o.hosts,
      orphaned: [...unsaved.values()],
      lastId: nextId - 1,
      events: orphanEvents,
      stats: proxy.stats,
      hasRules,
    });
    readLines<AgentToProxy>(sock, (m) => {
      if (!agentAcked) {
        // The agent's first message follows its reading of the hello.
        agentAcked = true;
        orphanEvents = [];
      }
      if (m.t === "ack") {
        // The latest agent's configuration is the one in force.
        configure(m.settings);
      } else if (m.t === "rules") {
        const next = new Map<string, EndpointDnsPolicy>();
        for (const ep of m.endpoints) {
          const p = compileEndpointDns({ ...ep } as Parameters<typeof compileEndpointDns>[0]);
          for (const a of p.addresses) next.set(a, p);
        }
        policies = next;
        hasRules = true;
      } else if (m.t === "saved") {
        for (const [id, a] of unsaved) {
          if (id > m.upTo) continue;
          unsaved.delete(id);
          unsavedAddresses -= a.addresses.length;
        }
      } else if (m.t === "learned") {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (m.error) p.reject(new Error(m.error));
        else p.resolve();
      } else if (m.t === "exit") void shutdown("the agent stopped for good");
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      if (agent !== sock) return;
      agent = undefined;
      // Claims the agent did not confirm: written here, so the answers waiting on them still go out.
      for (const [id, p] of pending) {
        pending.delete(id);
        try {
          learnAlone(id, p.answer);
          p.resolve();
        } catch (err) {
          p.reject(err as Error);
        }
      }
      if (!stopping) {
        log.warn({ orphanTimeoutMs: o.orphanTimeoutMs, fallbacks }, "the agent went away; answering alone");
        waitForAgent();
      }
    });
  }

  await proxy.listen(o.port, o.hosts);
  try {
    unlinkSync(socketPath);
  } catch {
    // None left over.
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  writeFileSync(pidFile, String(process.pid));
  waitForAgent();
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  log.info({ port: o.port, hosts: o.hosts, socket: socketPath }, "dns proxy listening");
  // Runs until shutdown() exits the process.
  await new Promise<never>(() => undefined);
  return 0;
}
