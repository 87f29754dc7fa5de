// Endpoint lifecycle behind CNI ADD / DEL / CHECK. Requests for the same (container,
// ifname) run one after another; different pods run concurrently. State reaches disk
// before ADD answers, so an agent restart knows every address it handed out.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIPv4 } from "node:net";
import path from "node:path";
import type { Logger } from "pino";
import type { CniRequest } from "../agent/protocol.js";
import { CniCode, CniError, type CniResult } from "../cni/spec.js";
import { allocationKey, type Ipam, IpamExhaustedError } from "../ipam/allocator.js";
import { CommandError } from "../routing/exec.js";
import {
  deleteLink,
  hostIfnameFor,
  inspectPod,
  linkExists,
  NetnsMissingError,
  POD_GATEWAY_V4,
  POD_GATEWAY_V6,
  plumbPod,
} from "../routing/pod-network.js";
import type { AgentMetrics } from "../status/metrics.js";

/** One pod interface the agent plumbed (CNI ADD), as kept in `endpoints.json`. */
export interface AgentEndpoint {
  /** `${containerId}/${ifname}` */
  id: string;
  containerId: string;
  ifname: string;
  netns: string;
  hostIfname: string;
  hostMac: string;
  mac: string;
  addresses: string[];
  namespace?: string;
  podName?: string;
  labels: Record<string, string>;
  /**
   * The labels the CNI request carried, kept once Kubernetes labels the endpoint (src/kubernetes/),
   * so that `labels` is always these plus the pod's current Kubernetes labels.
   */
  cniLabels?: Record<string, string>;
  createdAt: string;
}

/**
 * What the subsystems do when an endpoint comes and goes (the daemon runs every subsystem's
 * hooks): ADD awaits `onEndpointAdded`, so a pod's first packet already meets its policy.
 */
export interface EndpointHooks {
  /** Must be idempotent: a repeated ADD or an agent restart calls it again for the same endpoint. */
  onEndpointAdded(ep: AgentEndpoint): Promise<void>;
  /** Must succeed for an endpoint it never saw (DEL is idempotent). */
  onEndpointRemoved(ep: AgentEndpoint): Promise<void>;
}

interface PersistedEndpoints {
  version: 1;
  endpoints: AgentEndpoint[];
}

export class EndpointManager {
  private readonly endpoints = new Map<string, AgentEndpoint>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private persistChain: Promise<unknown> = Promise.resolve();
  private readonly file: string;
  private readonly listeners: (() => void)[] = [];
  private collector?: NodeJS.Timeout;
  /**
   * Set when the agent has a control plane: ADD returns only once this resolves (the endpoint's
   * identity and policy are in the datapath). A rejection rolls the endpoint back and fails ADD.
   */
  admission?: (ep: AgentEndpoint) => Promise<void>;

  constructor(
    private readonly ipam: Ipam,
    private readonly hooks: EndpointHooks,
    stateDir: string,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics,
    private readonly mtu?: number,
  ) {
    this.file = path.join(stateDir, "endpoints.json");
  }

  /** Loads persisted endpoints and hands them to the datapath again (it must adopt, not rebuild). */
  async load(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    try {
      const raw = JSON.parse(await readFile(this.file, "utf8")) as PersistedEndpoints;
      if (raw.version !== 1) throw new Error(`${this.file}: unknown version ${String(raw.version)}`);
      for (const ep of raw.endpoints ?? []) this.endpoints.set(ep.id, ep);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const ep of this.endpoints.values()) {
      try {
        await this.hooks.onEndpointAdded(ep);
      } catch (err) {
        this.log.error({ err, endpoint: ep.id }, "datapath did not adopt endpoint on start");
      }
    }
    this.metrics.endpoints.set(this.endpoints.size);
  }

  /** Called after every change to the set of endpoints (the sync loop reports them). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  list(): AgentEndpoint[] {
    return [...this.endpoints.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Finds an endpoint by container id, id, pod `namespace/name`, pod name, or address. */
  find(ref: string): AgentEndpoint | undefined {
    for (const ep of this.endpoints.values()) {
      if (
        ep.id === ref ||
        ep.containerId === ref ||
        ep.hostIfname === ref ||
        ep.addresses.includes(ref) ||
        (ep.podName && (ep.podName === ref || `${ep.namespace}/${ep.podName}` === ref))
      ) {
        return ep;
      }
    }
    return undefined;
  }

  /**
   * Gives an endpoint the labels Kubernetes has for its pod (undefined: none any more), on top of
   * the CNI request's. Returns whether anything changed; a change is persisted and reported.
   */
  async relabel(id: string, kubernetesLabels: Record<string, string> | undefined): Promise<boolean> {
    return this.serialised(id, async () => {
      const ep = this.endpoints.get(id);
      if (!ep) return false;
      const cniLabels = ep.cniLabels ?? ep.labels;
      const labels = { ...cniLabels, ...kubernetesLabels };
      if (sameLabels(labels, ep.labels)) return false;
      const next: AgentEndpoint = { ...ep, labels, cniLabels };
      this.endpoints.set(id, next);
      await this.persist();
      this.log.info({ endpoint: id, labels }, "endpoint relabelled from Kubernetes");
      return true;
    });
  }

  async handle(req: CniRequest): Promise<CniResult | undefined> {
    const key = allocationKey(req.containerId, req.ifname);
    const started = process.hrtime.bigint();
    let result = "ok";
    try {
      return await this.serialised(key, () => {
        if (req.command === "ADD") return this.add(req, key);
        if (req.command === "DEL") return this.del(req, key).then(() => undefined);
        return this.check(req, key).then(() => undefined);
      });
    } catch (err) {
      result = err instanceof CniError ? `error_${err.code}` : "error";
      throw err;
    } finally {
      this.metrics.cniRequests.inc({ command: req.command, result });
      this.metrics.cniDuration.observe(
        { command: req.command },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  }

  private async add(req: CniRequest, key: string): Promise<CniResult> {
    const netns = req.netns!;
    const existing = this.endpoints.get(key);
    if (existing && existing.netns === netns) {
      // A repeated ADD (the runtime retried after a timeout): answer with what exists if the
      // kernel still has it, otherwise rebuild it with the same addresses below.
      const problems = await inspectPod(this.plumbing(existing));
      if (problems.length === 0) {
        await this.hooks.onEndpointAdded(existing);
        return this.result(existing, req.cniVersion);
      }
      this.log.warn({ endpoint: key, problems }, "repeated ADD found the endpoint broken; rebuilding");
    }
    const hadAllocation = this.ipam.get(req.containerId, req.ifname) !== undefined;
    let alloc: Awaited<ReturnType<Ipam["allocate"]>>;
    try {
      alloc = await this.ipam.allocate(req.containerId, req.ifname);
    } catch (err) {
      if (err instanceof IpamExhaustedError) throw new CniError(CniCode.IpamExhausted, err.message);
      throw err;
    }
    const hostIfname = hostIfnameFor(req.containerId, req.ifname);
    const rollback = async () => {
      await deleteLink(hostIfname).catch(() => undefined);
      if (!hadAllocation) await this.ipam.release(req.containerId, req.ifname);
    };
    let plumbed: Awaited<ReturnType<typeof plumbPod>>;
    try {
      plumbed = await plumbPod({
        netns,
        ifname: req.ifname,
        hostIfname,
        addresses: alloc.addresses,
        mtu: req.mtu ?? this.mtu,
      });
    } catch (err) {
      await rollback();
      this.metrics.applyErrors.inc({ component: "cni" });
      if (err instanceof NetnsMissingError) {
        throw new CniError(CniCode.InvalidEnvironment, `CNI_NETNS: ${err.message}`);
      }
      if (err instanceof CommandError && /File exists/.test(err.stderr)) {
        throw new CniError(
          CniCode.Internal,
          `interface ${req.ifname} already exists in ${netns}`,
          err.message,
        );
      }
      throw new CniError(CniCode.Internal, `setting up the pod interface failed: ${(err as Error).message}`);
    }
    const ep: AgentEndpoint = {
      id: key,
      containerId: req.containerId,
      ifname: req.ifname,
      netns,
      hostIfname,
      hostMac: plumbed.hostMac,
      mac: plumbed.podMac,
      addresses: alloc.addresses,
      namespace: req.args.K8S_POD_NAMESPACE,
      podName: req.args.K8S_POD_NAME,
      labels: req.labels,
      createdAt: new Date().toISOString(),
    };
    try {
      await this.hooks.onEndpointAdded(ep);
    } catch (err) {
      await rollback();
      throw new CniError(
        CniCode.Internal,
        `the datapath did not apply endpoint ${key}: ${(err as Error).message}`,
      );
    }
    this.endpoints.set(key, ep);
    await this.persist();
    this.metrics.endpoints.set(this.endpoints.size);
    this.log.info(
      { endpoint: key, addresses: ep.addresses, hostIfname, labels: ep.labels },
      "endpoint added",
    );
    if (this.admission) {
      try {
        await this.admission(ep);
      } catch (err) {
        this.metrics.applyErrors.inc({ component: "cni" });
        this.log.warn({ endpoint: key, err: (err as Error).message }, "endpoint not admitted; rolling back");
        await this.del(req, key).catch((e) =>
          this.log.error({ err: e, endpoint: key }, "rolling back a failed ADD failed"),
        );
        if (err instanceof CniError) throw err;
        throw new CniError(CniCode.TryAgainLater, (err as Error).message);
      }
    }
    return this.result(ep, req.cniVersion);
  }

  private async del(req: CniRequest, key: string): Promise<void> {
    const ep = this.endpoints.get(key);
    if (ep) {
      try {
        await this.hooks.onEndpointRemoved(ep);
      } catch (err) {
        // DEL must make progress: a stuck DEL leaks the address forever.
        this.log.error({ err, endpoint: key }, "datapath failed to remove endpoint; removing it anyway");
      }
    }
    // Also covers an ADD that crashed before it recorded the endpoint.
    await deleteLink(ep?.hostIfname ?? hostIfnameFor(req.containerId, req.ifname));
    await this.ipam.release(req.containerId, req.ifname);
    if (ep) {
      this.endpoints.delete(key);
      await this.persist();
      this.metrics.endpoints.set(this.endpoints.size);
      this.log.info({ endpoint: key }, "endpoint deleted");
    }
  }

  private async check(req: CniRequest, key: string): Promise<void> {
    const ep = this.endpoints.get(key);
    if (!ep) {
      throw new CniError(
        CniCode.UnknownContainer,
        `no endpoint for container ${req.containerId} interface ${req.ifname} on this node`,
      );
    }
    const problems = await inspectPod(this.plumbing(ep));
    const prev = req.prevResult as { ips?: { address?: string }[] } | undefined;
    if (prev?.ips) {
      const want = new Set(prev.ips.map((i) => i.address?.split("/")[0]));
      for (const a of ep.addresses) if (!want.has(a)) problems.push(`prevResult lacks address ${a}`);
    }
    if (problems.length) {
      throw new CniError(
        CniCode.CheckFailed,
        `endpoint ${key} does not match the kernel: ${problems.join("; ")}`,
      );
    }
  }

  private plumbing(ep: AgentEndpoint) {
    return { netns: ep.netns, ifname: ep.ifname, hostIfname: ep.hostIfname, addresses: ep.addresses };
  }

  result(ep: AgentEndpoint, cniVersion: string): CniResult {
    const legacy = cniVersion.startsWith("0.");
    return {
      cniVersion,
      interfaces: [
        { name: ep.hostIfname, mac: ep.hostMac },
        { name: ep.ifname, mac: ep.mac, sandbox: ep.netns },
      ],
      ips: ep.addresses.map((a) => ({
        ...(legacy ? { version: isIPv4(a) ? ("4" as const) : ("6" as const) } : {}),
        address: isIPv4(a) ? `${a}/32` : `${a}/128`,
        gateway: isIPv4(a) ? POD_GATEWAY_V4 : POD_GATEWAY_V6,
        interface: 1,
      })),
      routes: [
        ...(ep.addresses.some((a) => isIPv4(a)) ? [{ dst: "0.0.0.0/0", gw: POD_GATEWAY_V4 }] : []),
        ...(ep.addresses.some((a) => !isIPv4(a)) ? [{ dst: "::/0", gw: POD_GATEWAY_V6 }] : []),
      ],
      dns: {},
    };
  }

  /**
   * Garbage collection. An endpoint whose host-side veth is gone lost its pod without a DEL
   * reaching us (the network namespace was deleted while the agent was down, or the runtime gave
   * up on DEL): a veth pair dies with either end. With `validAttachments` (CNI GC, spec 1.1) every
   * endpoint the runtime no longer lists is deleted as well. Each goes through DEL (datapath
   * entries, links, address) under its own lock, so a concurrent ADD/DEL of the same pod is never
   * raced. Returns the endpoints removed.
   */
  async collect(
    opts: { validAttachments?: { containerId: string; ifname: string }[] } = {},
  ): Promise<AgentEndpoint[]> {
    const valid = opts.validAttachments
      ? new Set(opts.validAttachments.map((a) => allocationKey(a.containerId, a.ifname)))
      : undefined;
    const removed: AgentEndpoint[] = [];
    for (const [key, ep] of [...this.endpoints]) {
      await this.serialised(key, async () => {
        if (this.endpoints.get(key) !== ep) return; // changed while we waited
        const why = valid && !valid.has(key) ? "not among the runtime's valid attachments" : undefined;
        const gone = why ?? ((await linkExists(ep.hostIfname)) ? undefined : "its host interface is gone");
        if (!gone) return;
        await this.del(
          {
            command: "DEL",
            cniVersion: "1.1.0",
            containerId: ep.containerId,
            ifname: ep.ifname,
            args: {},
            labels: {},
          },
          key,
        );
        this.log.info({ endpoint: key, pod: ep.podName, reason: gone }, "endpoint collected");
        removed.push(ep);
      });
    }
    return removed;
  }

  /** Collects gone endpoints now and then every `intervalMs` until `stopCollecting()`. */
  startCollecting(intervalMs: number): void {
    const tick = () =>
      this.collect().catch((err) => this.log.warn({ err }, "endpoint garbage collection failed"));
    void tick();
    this.collector = setInterval(tick, intervalMs);
    this.collector.unref();
  }

  stopCollecting(): void {
    if (this.collector) clearInterval(this.collector);
    this.collector = undefined;
  }

  private serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }

  private persist(): Promise<void> {
    const write = async () => {
      const tmp = `${this.file}.${process.pid}.tmp`;
      const body: PersistedEndpoints = { version: 1, endpoints: this.list() };
      await writeFile(tmp, JSON.stringify(body, null, 1));
      await rename(tmp, this.file);
      for (const l of this.listeners) l();
    };
    const next = this.persistChain.then(write, write);
    this.persistChain = next.catch(() => undefined);
    return next;
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}
