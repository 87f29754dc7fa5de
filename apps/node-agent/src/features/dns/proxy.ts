// The DNS proxy: DNS that from_pod redirected (bpf/lib/dns.h) arrives here over UDP and TCP with
// the pod's own source address. Each query is decided by the pod's DNS rules; a denied one is
// answered here (REFUSED, or NXDOMAIN if configured) and never forwarded; an allowed one goes to
// the server the pod addressed, and its answer is released only once every address it holds
// that a toFQDNs selector of the pod matches is in the datapath — or SERVFAIL if that took
// longer than the bound, so the pod's resolver asks again rather than connecting into a drop.
import dgram from "node:dgram";
import net, { isIPv6 } from "node:net";
import type { Logger } from "pino";
import { checkQuery, errorReply, type LearnedAddress, RCODE, readAnswer } from "./message.js";
import { decide, type EndpointDnsPolicy, selectorIdentities } from "./rules.js";

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
const MAX_TCP_MESSAGE = 65535;
const TCP_IDLE_MS = 10_000;
const LOG_SIZE = 1000;
/** Addresses an event keeps: a hostile answer's thousands of records must not fill the log's memory. */
export const MAX_EVENT_ANSWERS = 64;

function eventAnswers(addresses: LearnedAddress[]): Pick<DnsQueryEvent, "answers" | "answerCount"> {
  if (addresses.length <= MAX_EVENT_ANSWERS) return { answers: addresses };
  return { answers: addresses.slice(0, MAX_EVENT_ANSWERS), answerCount: addresses.length };
}

export interface DnsProxyOptions {
  datapathTimeoutMs: number;
  upstreamTimeoutMs: number;
  deniedResponse: "REFUSED" | "NXDOMAIN";
  log?: Logger;
}

export interface DnsProxyHooks {
  /** The DNS policy of the endpoint that owns `address`, if any. */
  policyFor(address: string): EndpointDnsPolicy | undefined;
  /** Where the pod's query was going (from_pod's record), by the pod's address, source port and protocol. */
  originalDestination(
    address: string,
    sport: number,
    protocol: number,
  ): { address: string; port: number } | null;
  /** Puts addresses into the datapath for the endpoint under the identities; resolves once they are there. */
  learn(
    policy: EndpointDnsPolicy,
    identities: number[],
    names: string[],
    addresses: LearnedAddress[],
  ): Promise<void>;
}

export interface DnsQueryEvent {
  time: string;
  endpoint?: string;
  client: string;
  server?: string;
  protocol: "udp" | "tcp";
  name?: string;
  type?: string;
  verdict: "allowed" | "denied" | "malformed" | "error";
  /** The DNS rule that allowed it, or why it was denied or failed. */
  rule?: string;
  reason?: string;
  rcode?: number;
  /** The answer's first MAX_EVENT_ANSWERS addresses with their TTLs (the log keeps 1,000 events). */
  answers?: LearnedAddress[];
  /** How many addresses the answer held, when more than `answers` shows. */
  answerCount?: number;
  /** Answer received → its addresses in the datapath. */
  datapathMs?: number;
  latencyMs: number;
}

export interface DnsProxyStats {
  queries: number;
  allowed: number;
  denied: number;
  malformed: number;
  dropped: number;
  upstreamFailures: number;
  datapathTimeouts: number;
}

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(`took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** IPv4 peers of a dual-stack socket show as ::ffff:a.b.c.d. */
const plainAddress = (a: string) => (a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a);

/**
 * One UDP socket per address family for every upstream query: the proxy's own 16-bit id goes on
 * the wire (the pod's id is put back on the answer), so answers of concurrent queries from many
 * pods never mix. A socket per query cost more than the rest of the proxy's work together.
 */
export class UpstreamUdp {
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<
    number,
    {
      server: { address: string; port: number };
      id: number;
      resolve(b: Buffer): void;
      reject(e: Error): void;
      timer: NodeJS.Timeout;
    }
  >();
  private nextId = Math.floor(Math.random() * 65536);

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family === 6 ? "udp6" : "udp4");
      s.on("message", (reply, rinfo) => {
        if (reply.length < 12) return;
        const p = this.pending.get(reply.readUInt16BE(0));
        if (!p || plainAddress(rinfo.address) !== p.server.address || rinfo.port !== p.server.port) return;
        this.pending.delete(reply.readUInt16BE(0));
        clearTimeout(p.timer);
        const out = Buffer.from(reply);
        out.writeUInt16BE(p.id, 0);
        p.resolve(out);
      });
      s.on("error", () => undefined);
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  exchange(server: { address: string; port: number }, msg: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.pending.size >= 60_000) return Promise.reject(new Error("too many queries in flight"));
    let wireId = this.nextId;
    while (this.pending.has(wireId)) wireId = (wireId + 1) & 0xffff;
    this.nextId = (wireId + 1) & 0xffff;
    const out = Buffer.from(msg);
    out.writeUInt16BE(wireId, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(wireId);
        reject(new Error(`no answer from ${server.address} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(wireId, { server, id: msg.readUInt16BE(0), resolve, reject, timer });
      this.socket(isIPv6(server.address) ? 6 : 4).send(out, server.port, server.address, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(wireId);
        reject(err);
      });
    });
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("proxy closing"));
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}

export class DnsProxy {
  private readonly upstream = new UpstreamUdp();
  readonly stats: DnsProxyStats = {
    queries: 0,
    allowed: 0,
    denied: 0,
    malformed: 0,
    dropped: 0,
    upstreamFailures: 0,
    datapathTimeouts: 0,
  };
  private readonly recent: DnsQueryEvent[] = [];
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly connections = new Set<net.Socket>();
  /** Called for every query's event (metrics, the log). */
  onEvent?: (e: DnsQueryEvent) => void;

  constructor(
    private readonly hooks: DnsProxyHooks,
    private opts: DnsProxyOptions,
  ) {}

  /** New bounds and the denied answer, for queries from now on (the agent's configuration changed). */
  configure(next: Omit<DnsProxyOptions, "log">): void {
    this.opts = { ...this.opts, ...next };
  }

  /** UDP and TCP on `port`, on each of `hosts` (IPv4 and IPv6 apart: an IPv6 socket is IPv6-only). */
  async listen(port: number, hosts: string[] = ["0.0.0.0", "::"]): Promise<void> {
    for (const host of hosts) {
      const v6 = isIPv6(host);
      const udp = dgram.createSocket({ type: v6 ? "udp6" : "udp4", ...(v6 ? { ipv6Only: true } : {}) });
      udp.on("message", (msg, rinfo) => {
        void this.answer(msg, plainAddress(rinfo.address), rinfo.port, PROTO_UDP).then((reply) => {
          if (reply) udp.send(reply, rinfo.port, rinfo.address);
        });
      });
      udp.on("error", (err) => this.opts.log?.warn({ err }, "dns proxy: UDP socket error"));
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once("error", reject);
          udp.bind(port, host, () => {
            udp.off("error", reject);
            resolve();
          });
        });
      } catch (err) {
        // A node without IPv6 still gets its IPv4 proxy.
        if (!v6) throw err;
        this.opts.log?.warn({ err }, "dns proxy: no IPv6 listener");
        udp.close();
        continue;
      }
      this.udp.push(udp);
      const tcp = net.createServer((sock) => this.serveTcp(sock));
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ port, host, ...(v6 ? { ipv6Only: true } : {}) }, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      this.tcp.push(tcp);
    }
  }

  recentEvents(): DnsQueryEvent[] {
    return [...this.recent];
  }

  private serveTcp(sock: net.Socket): void {
    this.connections.add(sock);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on("close", () => this.connections.delete(sock));
    sock.on("error", () => sock.destroy());
    const client = plainAddress(sock.remoteAddress ?? "");
    const sport = sock.remotePort ?? 0;
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        // One answer at a time, in order, as a resolver reading the stream expects.
        chain = chain.then(async () => {
          const reply = await this.answer(Buffer.from(msg), client, sport, PROTO_TCP);
          if (!reply || sock.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([head, reply]));
        });
      }
    });
  }

  /** The answer to one message from a pod, or null to send nothing. Never throws. */
  async answer(msg: Buffer, client: string, sport: number, protocol: number): Promise<Buffer | null> {
    const started = performance.now();
    const event: DnsQueryEvent = {
      time: new Date().toISOString(),
      client,
      protocol: protocol === PROTO_TCP ? "tcp" : "udp",
      verdict: "error",
      latencyMs: 0,
    };
    const done = (reply: Buffer | null, patch: Partial<DnsQueryEvent>) => {
      Object.assign(event, patch, { latencyMs: Math.round((performance.now() - started) * 1000) / 1000 });
      this.record(event);
      return reply;
    };
    this.stats.queries++;
    try {
      const q = checkQuery(msg);
      if (!q.ok) {
        if (q.reply) this.stats.malformed++;
        else this.stats.dropped++;
        return done(q.reply, {
          verdict: "malformed",
          reason: q.why,
          rcode: q.reply ? q.reply.readUInt16BE(2) & 0x0f : undefined,
        });
      }
      Object.assign(event, { name: q.name, type: q.type });
      const policy = this.hooks.policyFor(client);
      if (!policy)
        return done(errorReply(q.packet, RCODE.SERVFAIL), {
          reason: "no endpoint with DNS rules has this address",
          rcode: RCODE.SERVFAIL,
        });
      event.endpoint = policy.endpointId;
      const server = this.hooks.originalDestination(client, sport, protocol);
      if (!server)
        return done(errorReply(q.packet, RCODE.SERVFAIL), {
          reason: "original destination unknown",
          rcode: RCODE.SERVFAIL,
        });
      event.server = `${server.address}:${server.port}`;
      const decision = decide(policy, q.name, server.port, protocol);
      if (decision.verdict === "deny") {
        this.stats.denied++;
        const rcode = RCODE[this.opts.deniedResponse];
        return done(errorReply(q.packet, rcode), { verdict: "denied", reason: decision.reason, rcode });
      }
      event.rule = `${decision.ruleId} (${decision.matched})`;
      let upstream: Buffer;
      try {
        upstream =
          protocol === PROTO_TCP
            ? await exchangeTcp(server, msg, this.opts.upstreamTimeoutMs)
            : await this.upstream.exchange(server, msg, this.opts.upstreamTimeoutMs);
      } catch (err) {
        this.stats.upstreamFailures++;
        return done(errorReply(q.packet, RCODE.SERVFAIL), {
          reason: `upstream: ${(err as Error).message}`,
          rcode: RCODE.SERVFAIL,
        });
      }
      const a = readAnswer(upstream, q.id, q.name);
      if (!a.ok) {
        this.stats.upstreamFailures++;
        return done(errorReply(q.packet, RCODE.SERVFAIL), { reason: a.why, rcode: RCODE.SERVFAIL });
      }
      const identities = selectorIdentities(policy, a.names);
      let datapathMs: number | undefined;
      if (identities.length > 0 && a.addresses.length > 0) {
        const t0 = performance.now();
        try {
          await withTimeout(
            this.hooks.learn(policy, identities, a.names, a.addresses),
            this.opts.datapathTimeoutMs,
          );
          datapathMs = Math.round((performance.now() - t0) * 1000) / 1000;
        } catch (err) {
          if (err instanceof Timeout) this.stats.datapathTimeouts++;
          this.opts.log?.warn(
            { err, name: q.name, endpoint: policy.endpointId },
            "dns proxy: addresses not in the datapath in time; SERVFAIL",
          );
          return done(errorReply(q.packet, RCODE.SERVFAIL), {
            reason: `datapath: ${(err as Error).message}`,
            rcode: RCODE.SERVFAIL,
            ...eventAnswers(a.addresses),
          });
        }
      }
      this.stats.allowed++;
      return done(upstream, { verdict: "allowed", rcode: a.rcode, ...eventAnswers(a.addresses), datapathMs });
    } catch (err) {
      // A bug, not the input's fault: say so and answer nothing rather than crash.
      this.opts.log?.error({ err }, "dns proxy: query handling failed");
      return done(null, { reason: `internal error: ${(err as Error).message}` });
    }
  }

  private record(e: DnsQueryEvent): void {
    this.recent.push(e);
    if (this.recent.length > LOG_SIZE) this.recent.shift();
    this.onEvent?.(e);
  }

  async close(): Promise<void> {
    this.upstream.close();
    for (const s of this.connections) s.destroy();
    await Promise.all([
      ...this.udp.map((u) => new Promise<void>((r) => u.close(() => r()))),
      ...this.tcp.map((t) => new Promise<void>((r) => t.close(() => r()))),
    ]);
  }
}

/** One query to `server` over UDP; the first answer from it with the query's id. */
export function exchangeUdp(
  server: { address: string; port: number },
  msg: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(isIPv6(server.address) ? "udp6" : "udp4");
    const id = msg.readUInt16BE(0);
    const timer = setTimeout(
      () => finish(new Error(`no answer from ${server.address} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    sock.on("error", (err) => finish(err));
    sock.on("message", (reply, rinfo) => {
      if (plainAddress(rinfo.address) !== server.address || rinfo.port !== server.port) return;
      if (reply.length < 2 || reply.readUInt16BE(0) !== id) return;
      finish(null, reply);
    });
    sock.send(msg, server.port, server.address, (err) => {
      if (err) finish(err);
    });
  });
}

/** One query to `server` over TCP (RFC 7766 framing), on a connection of its own. */
export function exchangeTcp(
  server: { address: string; port: number },
  msg: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: server.address, port: server.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`no answer from ${server.address} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    sock.on("error", (err) => finish(err));
    sock.on("connect", () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([head, msg]));
    });
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (len > MAX_TCP_MESSAGE) return finish(new Error("oversize answer"));
      if (buf.length >= 2 + len) finish(null, Buffer.from(buf.subarray(2, 2 + len)));
    });
    sock.on("end", () => finish(new Error("connection closed before the answer")));
  });
}
