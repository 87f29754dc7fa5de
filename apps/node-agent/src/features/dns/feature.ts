// The DNS subsystem (component "dns"): FQDN policy. It points the datapath's DNS redirect at the
// pods whose policy has DNS rules (mdp_dns_redir), runs the transparent proxy that enforces those
// rules (proxy.ts), and claims the addresses of allowed answers in the ipcache as the "dns-proxy"
// owner — before the answer reaches the pod — until their TTL passes and no connection uses them.
import { EventEmitter } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  dnsComponentDetailSchema,
  dnsQueryFilterSchema,
  MAX_REPORTED_LEARNED,
  matchesDnsQuery,
} from "@meridian/model";
import { ifNameToIndex } from "@meridian/native";
import { Counter, Gauge, Histogram, type Metric } from "prom-client";
import type { z } from "zod";
import type { AgentEndpoint } from "../../agent/endpoints.js";
import { type LocalRoute, sendJson } from "../../agent/local-api.js";
import type { IpcacheClaim, SyncDiff } from "../../datapath/index.js";
import type { DnsEventReport, NodeDesiredState } from "../../sync/channel.js";
import { AGENT_VERSION } from "../../version.js";
import {
  type AgentFeature,
  type ControlPlaneSession,
  componentStatusSchema,
  type FeatureContext,
  type FeatureUplink,
  reportEvery,
} from "../feature.js";
import { desiredEndpointFor } from "../policy/translate.js";
import { DEFAULT_CACHE_LIMITS, EVICTION_LIMITS, LearnedAddresses } from "./cache.js";
import { addProxyAddressV6, DnsKernel, installNftRedirect, type RedirectEntry } from "./kernel.js";
import { type LearnedAddress, rcodeName } from "./message.js";
import type { DnsProxyStats, DnsQueryEvent } from "./proxy.js";
import { compileEndpointDns, type EndpointDnsPolicy } from "./rules.js";
import { ProxySupervisor } from "./supervisor.js";
import type { ProxyAnswer, ProxyEndpointRules } from "./wire.js";

/** The API's schema for the dns component (packages/model/src/dns/schemas.ts): console and agent share it. */
export const dnsStatusSchema = componentStatusSchema("dns", dnsComponentDetailSchema);
export type DnsStatus = z.infer<typeof dnsStatusSchema>;

export interface DnsFeatureDeps {
  /** The policy datapath's pin directory, when it is the eBPF one (else the feature stays off). */
  pinDir?: string;
  /** The policy subsystem's ipcache, as the "dns-proxy" owner. */
  claimIpcache(claims: IpcacheClaim[]): Promise<SyncDiff>;
  /** After a restart: claims the pinned ipcache still holds, kept by the next sync (no write). */
  adoptIpcacheClaims(claims: IpcacheClaim[]): void;
}

const LEARNED_FILE = "dns-learned.json";

const EXPIRY_INTERVAL_MS = 250;
/** At most one save of the learned addresses this often (the proxy keeps what is not saved yet). */
const SAVE_INTERVAL_MS = 1_000;
/** Queries `GET /v1/dns/log` keeps (the proxy process sends each one here). */
const LOG_SIZE = 1000;

export class DnsFeature implements AgentFeature {
  readonly component = "dns";
  readonly sections = ["endpoints"] as const;
  readonly refusesStateOnFailure = false;
  readonly statusSchema = dnsStatusSchema;
  readonly metrics: Metric[];
  readonly routes: LocalRoute[];
  private kernel?: DnsKernel;
  private proxy?: ProxySupervisor;
  /** The proxy process's counters as of its last event. */
  private proxyStats?: DnsProxyStats;
  private readonly recent: DnsQueryEvent[] = [];
  private off?: string;
  private error?: string;
  private readonly endpoints = new Map<string, AgentEndpoint>();
  /** DNS policy by endpoint address. */
  private policies = new Map<string, EndpointDnsPolicy>();
  private redirects: RedirectEntry[] = [];
  /** The agent has handed over every endpoint it found at start (onEndpointsLoaded). */
  private endpointsLoaded = false;
  private readonly cache: LearnedAddresses;
  private flushLoop?: Promise<void>;
  private saving?: Promise<void>;
  private saveAgain = false;
  private lastSaveAt = 0;
  /** close() runs: the last save does not wait for the interval. */
  private closing = false;
  /** The proxy's id of the last answer in the cache (saves confirm up to it). */
  private lastLearnId = 0;
  /** start() is done: claims taken over later are written (flush), not adopted. */
  private started = false;
  private dirty = false;
  private expiryTimer?: NodeJS.Timeout;
  private readonly queries: Counter<"verdict" | "rcode">;
  private readonly datapathSeconds: Histogram;
  /** Every query's event as it is answered ("query"), for `dns log --follow`. */
  private readonly queryEvents = new EventEmitter().setMaxListeners(0);
  /** Set while the control plane takes DNS events (connect). */
  private uplinkEvent?: (e: DnsQueryEvent) => void;

  constructor(
    private readonly ctx: FeatureContext,
    private readonly deps: DnsFeatureDeps,
  ) {
    const cfg = ctx.config.dns;
    this.cache = new LearnedAddresses(Date.now, {
      ...DEFAULT_CACHE_LIMITS,
      perName: cfg.maxAddressesPerName,
      perEndpoint: cfg.maxLearnedPerEndpoint,
      perNode: cfg.maxLearnedPerNode,
    });
    this.queries = new Counter({
      name: "meridian_dns_queries_total",
      help: "DNS queries the proxy answered, by verdict (allowed, denied, malformed, error) and response code",
      labelNames: ["verdict", "rcode"] as const,
      registers: [],
    });
    this.datapathSeconds = new Histogram({
      name: "meridian_dns_answer_to_datapath_seconds",
      help: "From an allowed answer's arrival to its addresses being in the datapath",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [],
    });
    const cache = this.cache;
    const evicted = new Counter({
      name: "meridian_dns_learned_evicted_total",
      help: "Learned addresses dropped before their TTL to stay within a limit (dns.maxAddressesPerName, maxLearnedPerEndpoint, maxLearnedPerNode)",
      labelNames: ["limit"] as const,
      registers: [],
      // Read at scrape time from the cache's own counts.
      collect() {
        this.reset();
        for (const limit of EVICTION_LIMITS) this.inc({ limit }, cache.evicted[limit]);
      },
    });
    const learned = new Gauge({
      name: "meridian_dns_learned_entries",
      help: "Learned (endpoint, address, selector) entries the DNS proxy holds in the datapath",
      registers: [],
      collect() {
        this.set(cache.size + cache.deferredSize);
      },
    });
    this.metrics = [this.queries, this.datapathSeconds, evicted, learned];
    this.routes = [
      {
        method: "GET",
        path: "/v1/dns/cache",
        handle: ({ res }) => sendJson(res, 200, { entries: this.cache.view() }),
      },
      {
        method: "GET",
        path: "/v1/dns/log",
        handle: ({ req, res, url }) => {
          const parsed = dnsQueryFilterSchema.safeParse(
            Object.fromEntries(
              ["verdict", "name", "endpoint"].flatMap((k) => {
                const v = url.searchParams.get(k);
                return v ? [[k, v]] : [];
              }),
            ),
          );
          if (!parsed.success) {
            const i = parsed.error.issues[0]!;
            return sendJson(res, 400, { msg: `${String(i.path[0])}: ${i.message}` });
          }
          const wanted = (e: DnsQueryEvent) => matchesDnsQuery(e, parsed.data);
          // Without follow: the last queries the proxy keeps, with its counters.
          if (url.searchParams.get("follow") !== "1") {
            const events = this.recent.filter(wanted);
            return sendJson(res, 200, { events, stats: this.stats() });
          }
          // With follow: each query as it is answered, one JSON line each, until the client goes.
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          const onQuery = (e: DnsQueryEvent) => {
            if (wanted(e)) res.write(`${JSON.stringify(e)}\n`);
          };
          this.queryEvents.on("query", onQuery);
          req.on("close", () => this.queryEvents.off("query", onQuery));
        },
      },
    ];
  }

  private stats(): DnsProxyStats | undefined {
    return this.proxyStats;
  }

  async start(): Promise<void> {
    const { pinDir } = this.deps;
    if (!pinDir || !existsSync(path.join(pinDir, "mdp_dns_redir"))) {
      this.off = "no eBPF datapath with the DNS redirect: FQDN policy is not enforced";
      return;
    }
    const cfg = this.ctx.config.dns;
    this.kernel = DnsKernel.open(pinDir);
    this.restoreLearned();
    let proxyV6: string | undefined = cfg.proxyAddressV6;
    try {
      await addProxyAddressV6(proxyV6);
    } catch (err) {
      // The nft rule then drops marked IPv6 DNS: a pod with DNS rules gets no IPv6 DNS, never unfiltered.
      this.ctx.log.warn({ err }, "dns: no IPv6 proxy address; IPv6 DNS of pods with DNS rules is dropped");
      proxyV6 = undefined;
    }
    try {
      await installNftRedirect(cfg.proxyPort, proxyV6);
    } catch (err) {
      // The rest of the agent runs; pods with DNS rules get no DNS (their queries are marked and
      // meet nothing), and status says why.
      this.off = `the nftables redirect to the DNS proxy failed: ${(err as Error).message.split("\n")[0]}`;
      this.ctx.log.error({ err }, "dns: FQDN policy not enforced");
      return;
    }
    this.proxy = new ProxySupervisor(
      {
        stateDir: this.ctx.config.stateDir,
        pinDir,
        port: cfg.proxyPort,
        hosts: proxyV6 ? ["0.0.0.0", proxyV6] : ["0.0.0.0"],
        datapathTimeoutMs: cfg.datapathTimeoutMs,
        upstreamTimeoutMs: cfg.upstreamTimeoutMs,
        deniedResponse: cfg.deniedResponse,
        minTtlSeconds: cfg.minTtlSeconds,
        orphanTimeoutMs: cfg.proxyOrphanTimeoutMs,
        maxOrphaned: cfg.maxLearnedPerNode,
        logLevel: this.ctx.config.logLevel,
        startedBy: AGENT_VERSION,
      },
      {
        learn: (a, id) => {
          const done = this.learnFromProxy(a);
          // learnAnswer ran synchronously: a save from now on includes it.
          this.lastLearnId = Math.max(this.lastLearnId, id);
          return done;
        },
        event: (e, stats) => {
          this.proxyStats = stats;
          this.onQuery(e);
        },
        hello: (h) => {
          this.proxyStats = h.stats;
          for (const e of h.events) this.onQuery(e);
          // Answered while no agent ran: in the ipcache already, this agent's claims from now on.
          for (const a of h.orphaned) this.cache.learnAnswer(a);
          this.lastLearnId = Math.max(this.lastLearnId, h.lastId);
          if (h.orphaned.length > 0) {
            this.ctx.log.info({ answers: h.orphaned.length }, "dns: took over what the proxy learned alone");
            if (this.started) void this.flush().catch(() => undefined);
          }
        },
      },
      this.ctx.log,
    );
    try {
      await this.proxy.start();
    } catch (err) {
      // Retried while the agent runs (the supervisor starts it again); status says why meanwhile.
      this.error = `dns: ${(err as Error).message}`;
      this.ctx.log.error({ err }, "dns: the proxy process did not start");
    }
    // Before the first sync: restored and orphaned claims are kept, not removed and rewritten.
    this.deps.adoptIpcacheClaims(this.cache.claims());
    this.started = true;
    // What the hello handed over is on disk before the proxy forgets it.
    await this.saveLearned().catch((err) =>
      this.ctx.log.warn({ err }, "dns: saving learned addresses failed"),
    );
    this.expiryTimer = setInterval(() => this.expire(), EXPIRY_INTERVAL_MS);
    this.expiryTimer.unref();
    const state = this.ctx.desiredState();
    if (state) await this.apply(state);
    this.ctx.log.info(
      { port: cfg.proxyPort, ipv6: proxyV6 ?? "off", proxy: this.proxy.state },
      "dns proxy listening",
    );
  }

  /**
   * Addresses learned before a restart are still in the pinned ipcache and flows use them: they are
   * adopted (kept by the policy datapath's next sync, not rewritten), expired ones then go through
   * the usual expiry check against conntrack.
   */
  private restoreLearned(): void {
    const file = path.join(this.ctx.config.stateDir, LEARNED_FILE);
    if (!existsSync(file)) return;
    try {
      this.cache.restore(JSON.parse(readFileSync(file, "utf8")));
      this.ctx.log.info({ learned: this.cache.size }, "dns: learned addresses restored");
    } catch (err) {
      this.ctx.log.warn({ err, file }, "dns: learned addresses not restored");
    }
  }

  /**
   * One save at a time (two would race on the temporary file); a save asked for while one runs
   * follows it, at most one a SAVE_INTERVAL_MS. Once a save is on disk the proxy forgets the answers
   * it covers: until then it keeps them, so an agent killed before saving loses none (the next one
   * gets them in the hello) — which is what lets saves wait: at hundreds of answers a second, a
   * save (the whole cache as JSON) after every claim was most of the agent's work.
   */
  private saveLearned(): Promise<void> {
    this.saveAgain = true;
    if (!this.saving)
      this.saving = (async () => {
        try {
          while (this.saveAgain) {
            const wait = this.lastSaveAt + SAVE_INTERVAL_MS - Date.now();
            if (wait > 0 && !this.closing) await new Promise((r) => setTimeout(r, wait));
            this.saveAgain = false;
            this.lastSaveAt = Date.now();
            const file = path.join(this.ctx.config.stateDir, LEARNED_FILE);
            const upTo = this.lastLearnId;
            await writeFile(`${file}.tmp`, JSON.stringify(this.cache.toJSON()));
            await rename(`${file}.tmp`, file);
            this.proxy?.confirmSaved(upTo);
          }
        } finally {
          this.saving = undefined;
        }
      })();
    return this.saving;
  }

  async apply(next: NodeDesiredState): Promise<void> {
    if (!this.kernel) return;
    try {
      const policies = new Map<string, EndpointDnsPolicy>();
      for (const d of next.endpoints) {
        if (d.dnsRules.length === 0) continue;
        const p = compileEndpointDns(d);
        for (const a of p.addresses) policies.set(a, p);
      }
      this.policies = policies;
      this.proxy?.pushRules(
        next.endpoints
          .filter((d) => d.dnsRules.length > 0)
          .map(
            (d): ProxyEndpointRules => ({
              namespace: d.namespace,
              name: d.name,
              ipv4: d.ipv4,
              ipv6: d.ipv6,
              dnsRules: d.dnsRules,
              fqdnSelectors: d.fqdnSelectors,
            }),
          ),
      );
      const keep = new Set([...policies.values()].map((p) => p.endpointId));
      let dropped = false;
      for (const id of this.cache.endpoints())
        if (!keep.has(id)) dropped = this.cache.dropEndpoint(id) || dropped;
      this.syncRedirects(next);
      if (dropped) await this.flush();
      this.error = undefined;
    } catch (err) {
      this.error = `dns: ${(err as Error).message}`;
      throw err;
    }
  }

  /** The redirect map: every managed endpoint's host veth with its DNS rules' ports. */
  private syncRedirects(state: NodeDesiredState | undefined): void {
    if (!this.kernel) return;
    const want: RedirectEntry[] = [];
    for (const ep of this.endpoints.values()) {
      const d = desiredEndpointFor(state, ep);
      if (!d || d.dnsRules.length === 0) continue;
      const ifindex = ifNameToIndex(ep.hostIfname);
      if (!ifindex) continue;
      for (const r of d.dnsRules)
        for (const p of r.ports) want.push({ ifindex, protocol: p.protocol, port: p.port });
    }
    // Until the agent has handed over every endpoint the last one plumbed, an entry of an endpoint
    // not seen yet is not stale: removing it would let that pod's DNS reach its server unfiltered.
    const diff = this.kernel.setRedirects(want, this.endpointsLoaded);
    this.redirects = want;
    if (diff.written + diff.removed > 0) this.ctx.log.info({ redirect: diff }, "dns redirect synced");
  }

  async onEndpointsLoaded(): Promise<void> {
    this.endpointsLoaded = true;
    this.syncRedirects(this.ctx.desiredState());
  }

  async onEndpointAdded(ep: AgentEndpoint): Promise<void> {
    this.endpoints.set(ep.id, ep);
    this.syncRedirects(this.ctx.desiredState());
  }

  async onEndpointRemoved(ep: AgentEndpoint): Promise<void> {
    this.endpoints.delete(ep.id);
    this.syncRedirects(this.ctx.desiredState());
  }

  private learnFromProxy(a: ProxyAnswer): Promise<void> {
    const policy = this.policies.get(a.endpointAddresses[0] ?? "") ?? {
      endpointId: a.endpointId,
      addresses: a.endpointAddresses,
      rules: [],
      selectors: [],
    };
    return this.learn(policy, a.identities, a.names, a.addresses);
  }

  private onQuery(e: DnsQueryEvent): void {
    this.recent.push(e);
    if (this.recent.length > LOG_SIZE) this.recent.shift();
    this.uplinkEvent?.(e);
    this.queryEvents.emit("query", e);
    this.queries.inc({ verdict: e.verdict, rcode: String(e.rcode ?? "none") });
    if (e.datapathMs !== undefined) this.datapathSeconds.observe(e.datapathMs / 1000);
    if (e.verdict === "denied") this.ctx.log.info({ dns: e }, "dns query denied");
  }

  /** Claims the answer's addresses; resolves once the kernel's ipcache holds them. */
  private learn(
    policy: EndpointDnsPolicy,
    identities: number[],
    names: string[],
    addresses: LearnedAddress[],
  ): Promise<void> {
    const minTtl = this.ctx.config.dns.minTtlSeconds;
    const now = Date.now();
    const perNameBefore = this.cache.evicted["per-name"];
    const changed = this.cache.learnAnswer({
      endpointId: policy.endpointId,
      endpointAddresses: policy.addresses,
      identities,
      names,
      addresses: addresses.map((a) => ({
        address: a.address,
        expiresAt: now + Math.max(a.ttl, minTtl) * 1000,
      })),
    });
    const overName = this.cache.evicted["per-name"] - perNameBefore;
    if (overName > 0)
      this.ctx.log.warn(
        { endpoint: policy.endpointId, name: names[0], addresses: addresses.length, evicted: overName },
        "dns: an answer went over dns.maxAddressesPerName; the oldest addresses of the name were dropped",
      );
    // Known already: in the kernel once any write in flight is done.
    return changed ? this.flush() : (this.flushLoop ?? Promise.resolve());
  }

  /** Writes the cache's claims; concurrent callers share the next write. */
  private flush(): Promise<void> {
    this.dirty = true;
    if (!this.flushLoop) {
      this.flushLoop = (async () => {
        try {
          while (this.dirty) {
            this.dirty = false;
            await this.deps.claimIpcache(this.cache.claims());
          }
          // Saved after the write: at worst a restart forgets the newest entry, never keeps one it lost.
          this.saveLearned().catch((err) =>
            this.ctx.log.warn({ err }, "dns: saving learned addresses failed"),
          );
        } finally {
          this.flushLoop = undefined;
        }
      })();
    }
    return this.flushLoop;
  }

  private expire(): void {
    const expired = this.cache.expired();
    if (expired.length === 0 || !this.kernel) return;
    try {
      const pairs = expired.flatMap((e) => e.endpointAddresses.map((from) => ({ from, to: e.address })));
      const busy = this.kernel.busy(pairs, BigInt(this.ctx.config.dns.connectionIdleMs) * 1_000_000n);
      if (this.cache.expire(busy) > 0)
        this.flush().catch((err) => this.ctx.log.warn({ err }, "dns: removing expired addresses failed"));
    } catch (err) {
      this.ctx.log.warn({ err }, "dns: expiry check failed");
    }
  }

  status(): DnsStatus {
    const cfg = this.ctx.config.dns;
    const detail = {
      proxyPort: cfg.proxyPort,
      learned: this.cache.size,
      redirectedEndpoints: new Set(this.redirects.map((r) => r.ifindex)).size,
      ...(this.proxyStats ? { stats: { ...this.proxyStats } } : {}),
      ...(this.proxy ? { proxy: { ...this.proxy.state } } : {}),
      entries: this.cache.reported(MAX_REPORTED_LEARNED),
    };
    if (this.off) return { component: "dns", state: "degraded", message: this.off, detail };
    if (this.error) return { component: "dns", state: "error", message: this.error, detail };
    const s = this.proxyStats;
    const p = this.proxy?.state;
    if (p?.state !== "up")
      return {
        component: "dns",
        state: "error",
        message: `the DNS proxy process is down (pid ${p?.pid ?? "none"}); starting it again`,
        detail,
      };
    return {
      component: "dns",
      state: "ok",
      message: `proxy pid ${p.pid} up since ${p.since} on :${cfg.proxyPort}; ${s?.allowed ?? 0} allowed, ${s?.denied ?? 0} denied, ${s?.datapathTimeouts ?? 0} datapath timeouts`,
      detail,
    };
  }

  lastError(): string | undefined {
    return this.error;
  }

  /** Query events to the control plane in batches every `flowReportIntervalMs`, best effort. */
  connect({ channel, log }: ControlPlaneSession): FeatureUplink {
    const send = channel.reportDnsEvents?.bind(channel);
    if (!send) return { stop() {} };
    let batch: DnsEventReport[] = [];
    let overflow = 0;
    this.uplinkEvent = (e) => {
      if (batch.length < MAX_EVENTS_PER_REPORT) batch.push(toReport(e));
      else overflow++;
    };
    const stop = reportEvery({
      intervalMs: this.ctx.config.flowReportIntervalMs,
      log,
      what: "dns: query events",
      drain: () => {
        const drained = { rows: batch, overflow };
        batch = [];
        overflow = 0;
        return drained;
      },
      send,
    });
    return {
      stop: () => {
        stop();
        this.uplinkEvent = undefined;
      },
    };
  }

  /** `meridian-agent status`: the proxy process's state (dnsProxy). */
  statusView(): Record<string, unknown> {
    return this.proxy ? { dnsProxy: { ...this.proxy.state } } : {};
  }

  async close(opts?: { forGood?: boolean }): Promise<void> {
    this.closing = true;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    // The proxy process keeps answering with the last rules until the next agent adopts it (or it
    // has waited dns.proxyOrphanTimeoutMs); stopped for good, it exits now. The redirect and the
    // nft rule stay either way: with no proxy listening a redirected query meets a closed port and
    // fails rather than reaching a server unfiltered.
    // Claims in flight written and saved first: the proxy then forgets them, the next agent restores them.
    await this.flushLoop?.catch(() => undefined);
    await this.saving?.catch(() => undefined);
    await this.proxy?.close(opts?.forGood === true);
    this.kernel?.close();
  }
}

/** agent.reportDnsEvents takes at most this many per call. */
const MAX_EVENTS_PER_REPORT = 1000;

/** One proxy event as the control plane stores it (agent.reportDnsEvents). */
export function toReport(e: DnsQueryEvent): DnsEventReport {
  const ttls = (e.answers ?? []).map((a) => a.ttl);
  return {
    at: e.time,
    ...(e.endpoint ? { endpoint: e.endpoint.slice(0, 300) } : {}),
    sourceIP: e.client,
    qname: (e.name ?? "").slice(0, 255),
    qtype: (e.type ?? "").slice(0, 16),
    rcode: e.rcode === undefined ? "none" : rcodeName(e.rcode),
    answers: (e.answers ?? []).slice(0, 64).map((a) => a.address),
    ...(ttls.length ? { ttlSeconds: Math.min(...ttls) } : {}),
    verdict: e.verdict,
    ...(e.rule ? { rule: e.rule.slice(0, 300) } : {}),
    ...(e.reason ? { reason: e.reason.slice(0, 300) } : {}),
    ...(e.server ? { server: e.server } : {}),
    protocol: e.protocol,
    latencyMs: e.latencyMs,
    ...(e.datapathMs !== undefined ? { datapathMs: e.datapathMs } : {}),
  };
}
