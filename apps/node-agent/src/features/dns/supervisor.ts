// The agent's side of the DNS proxy process (proxy-process.ts): adopt the one the last agent left
// running (its pid file and socket in stateDir), or start one, detached so it outlives this agent;
// push it the rules; answer its claims; take its events. If it dies while this agent runs, a new
// one is started. Stopping the agent leaves it answering (it exits by itself after
// `orphanTimeoutMs` with no agent); stopping for good tells it to exit at once.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Logger } from "pino";
import { AGENT_BIN } from "../../cni/invoke.js";
import type { DnsProxyStats, DnsQueryEvent } from "./proxy.js";
import {
  type AgentToProxy,
  isProxyProcess,
  PROXY_LOG_FILE,
  PROXY_PID_FILE,
  PROXY_PROTOCOL,
  PROXY_SOCKET,
  type ProxyAnswer,
  type ProxyEndpointRules,
  type ProxyProcessOptions,
  type ProxyToAgent,
  readLines,
  send,
} from "./wire.js";

type Hello = Extract<ProxyToAgent, { t: "hello" }>;

export interface ProxyState {
  state: "up" | "down";
  pid?: number;
  /** When the proxy process started (it may be older than this agent). */
  since?: string;
  /** This agent found it running (adopted) rather than starting it. */
  adopted?: boolean;
  /** The agent version that started it. */
  startedBy?: string;
  /** Times this agent had to start a proxy after the first. */
  restarts: number;
  /** Answers whose addresses the proxy wrote itself because this agent's reply took too long. */
  datapathFallbacks?: number;
  /** Query events the proxy dropped because this agent read them slower than they came. */
  eventsDropped?: number;
}

export interface SupervisorHooks {
  /** An allowed answer's addresses: resolve once they are in the ipcache. */
  learn(a: ProxyAnswer, id: number): Promise<void>;
  event(e: DnsQueryEvent, stats: DnsProxyStats): void;
  /** The proxy's hello: what it learned and answered with no agent. Runs before any other message. */
  hello(h: Hello): void;
}

const CONNECT_TIMEOUT_MS = 500;
const START_TIMEOUT_MS = 20_000;
const RESPAWN_DELAY_MS = 500;

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connect(socketPath: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, CONNECT_TIMEOUT_MS);
    s.once("connect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

function waitForHello(s: net.Socket, hooks: SupervisorHooks, onOther: (m: ProxyToAgent) => void) {
  return new Promise<Hello | undefined>((resolve) => {
    let got = false;
    const timer = setTimeout(() => resolve(undefined), START_TIMEOUT_MS);
    readLines<ProxyToAgent>(s, (m) => {
      if (!got && m.t === "hello") {
        got = true;
        clearTimeout(timer);
        // Handled before any later message of this connection is read.
        if (m.protocol === PROXY_PROTOCOL) hooks.hello(m);
        resolve(m);
      } else if (got) onOther(m);
    });
    s.once("close", () => {
      clearTimeout(timer);
      if (!got) resolve(undefined);
    });
  });
}

export class ProxySupervisor {
  private socket?: net.Socket;
  private rules?: ProxyEndpointRules[];
  private closing = false;
  private started = false;
  readonly state: ProxyState = { state: "down", restarts: 0 };

  constructor(
    private readonly options: ProxyProcessOptions,
    private readonly hooks: SupervisorHooks,
    private readonly log: Logger,
  ) {}

  private get socketPath() {
    return path.join(this.options.stateDir, PROXY_SOCKET);
  }
  private get pidFile() {
    return path.join(this.options.stateDir, PROXY_PID_FILE);
  }

  private runningPid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidFile, "utf8"));
      return isProxyProcess(pid, readCmdline) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Adopts the running proxy or starts one; resolves once it said hello (and that was handled). */
  async start(): Promise<void> {
    await this.attach();
  }

  private async attach(): Promise<void> {
    const pid = this.runningPid();
    if (pid !== undefined) {
      const s = await connect(this.socketPath);
      if (s && (await this.handshake(s, true))) return;
      // Running but not answering, or of another protocol: replaced.
      await this.stopProcess(pid);
    }
    const child = this.spawnProxy();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && !this.closing) {
      if (child.exitCode !== null)
        throw new Error(`the DNS proxy exited at start (code ${child.exitCode}); see ${PROXY_LOG_FILE}`);
      const s = await connect(this.socketPath);
      if (s && (await this.handshake(s, false))) return;
      await sleep(100);
    }
    throw new Error(`the DNS proxy did not start within ${START_TIMEOUT_MS / 1000} s; see ${PROXY_LOG_FILE}`);
  }

  private spawnProxy() {
    const out = openSync(path.join(this.options.stateDir, PROXY_LOG_FILE), "a");
    // Detached, its own session: a signal to the agent's process group does not reach it.
    const child = spawn(
      process.execPath,
      [AGENT_BIN, "dns-proxy", "--options", JSON.stringify(this.options)],
      { stdio: ["ignore", out, out], detached: true },
    );
    closeSync(out);
    child.unref();
    if (this.started) this.state.restarts++;
    this.log.info({ pid: child.pid }, "dns: proxy process started");
    return child;
  }

  private async handshake(s: net.Socket, adopted: boolean): Promise<boolean> {
    const hello = await waitForHello(s, this.hooks, (m) => this.onMessage(s, m));
    if (!hello) {
      s.destroy();
      return false;
    }
    const samePlace =
      hello.port === this.options.port && hello.hosts.join(",") === this.options.hosts.join(",");
    if (hello.protocol !== PROXY_PROTOCOL || !samePlace) {
      // Replaced: a gap while the new one binds (queries meet a closed port, the pod retries).
      this.log.warn(
        {
          pid: hello.pid,
          protocol: hello.protocol,
          want: PROXY_PROTOCOL,
          port: hello.port,
          hosts: hello.hosts,
        },
        "dns: the running proxy speaks another protocol or listens elsewhere; replacing it",
      );
      send(s, { t: "exit" });
      s.destroy();
      return false;
    }
    this.socket = s;
    this.started = true;
    Object.assign(this.state, {
      state: "up",
      pid: hello.pid,
      since: hello.since,
      adopted,
      startedBy: hello.startedBy,
    });
    this.log.info(
      { pid: hello.pid, since: hello.since, adopted, orphaned: hello.orphaned.length },
      adopted ? "dns: adopted the running proxy" : "dns: proxy connected",
    );
    s.on("error", () => undefined);
    s.on("close", () => this.onClose(s));
    // The hello's orphaned answers are this agent's now: the proxy may forget them.
    const o = this.options;
    send(s, {
      t: "ack",
      settings: {
        datapathTimeoutMs: o.datapathTimeoutMs,
        upstreamTimeoutMs: o.upstreamTimeoutMs,
        deniedResponse: o.deniedResponse,
        minTtlSeconds: o.minTtlSeconds,
        orphanTimeoutMs: o.orphanTimeoutMs,
        maxOrphaned: o.maxOrphaned,
      },
    });
    // Without rules yet (no desired state), the proxy keeps enforcing the ones it has.
    if (this.rules) send(s, { t: "rules", endpoints: this.rules });
    return true;
  }

  private onMessage(s: net.Socket, m: ProxyToAgent): void {
    if (m.t === "learn") {
      const { t: _t, id, ...answer } = m;
      this.hooks.learn(answer, id).then(
        () => send(s, { t: "learned", id }),
        (err: Error) => send(s, { t: "learned", id, error: err.message }),
      );
    } else if (m.t === "event") {
      this.state.datapathFallbacks = m.fallbacks;
      this.state.eventsDropped = m.eventsDropped;
      this.hooks.event(m.event, m.stats);
    }
  }

  private onClose(s: net.Socket): void {
    if (this.socket !== s) return;
    this.socket = undefined;
    this.state.state = "down";
    if (this.closing) return;
    this.log.warn({ pid: this.state.pid }, "dns: lost the proxy; starting it again");
    void (async () => {
      while (!this.closing && !this.socket) {
        await sleep(RESPAWN_DELAY_MS);
        try {
          await this.attach();
        } catch (err) {
          this.log.error({ err }, "dns: the proxy did not come back");
        }
      }
    })();
  }

  /** The learned-address file holds every answer up to the proxy's id `upTo`: it may forget them. */
  confirmSaved(upTo: number): void {
    if (this.socket && upTo > 0) send(this.socket, { t: "saved", upTo });
  }

  /** The rules the proxy enforces from now on (it keeps them when this agent goes). */
  pushRules(endpoints: ProxyEndpointRules[]): void {
    this.rules = endpoints;
    if (this.socket) send(this.socket, { t: "rules", endpoints });
  }

  private async stopProcess(pid: number): Promise<void> {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && isProxyProcess(pid, readCmdline)) await sleep(50);
    if (isProxyProcess(pid, readCmdline)) process.kill(pid, "SIGKILL");
  }

  /**
   * `forGood`: the proxy exits now (and its sockets close: pods with DNS rules get no DNS until an
   * agent runs again). Otherwise it keeps answering with the last rules and waits for the next agent.
   */
  async close(forGood: boolean): Promise<void> {
    this.closing = true;
    const s = this.socket;
    if (!s) return;
    const msg: AgentToProxy = forGood ? { t: "exit" } : { t: "bye" };
    const pid = this.state.pid;
    await new Promise<void>((r) => s.end(`${JSON.stringify(msg)}\n`, () => r()));
    if (forGood && pid) {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && isProxyProcess(pid, readCmdline)) await sleep(50);
    }
    s.destroy();
  }
}
