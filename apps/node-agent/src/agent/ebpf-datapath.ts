// The real datapath behind the agent's `Datapath` seam: loads (or adopts) the eBPF programs and
// pinned maps under one pin directory per node, attaches from_pod/to_pod to every endpoint's
// host veth with tcx, and turns the control plane's desired state into map entries, applying
// only the difference. Programs and maps stay when the agent stops: traffic keeps its verdicts.
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import path from "node:path";
import { objectPath } from "@meridian/bpf";
import { ifNameToIndex, isBpffs, type RingBuffer, runInNetns } from "@meridian/native";
import type { Logger } from "pino";
import {
  type AttachPoint,
  type CounterRow,
  compilePolicy,
  DEFAULT_PIN_DIR,
  DIRECTION,
  type Endpoint,
  EP_FLAGS,
  type FlowEvent as KernelFlowEvent,
  Datapath as Loaded,
  POLICY_PREFIX,
  type PolicyMapEntry,
  type PolicyRule,
  type Protocol,
  subscribeFlowEvents,
  VERDICT,
} from "../datapath/index.js";
import type { NodeDesiredState } from "../sync/channel.js";
import type { AgentEndpoint, Datapath, FlowEvent } from "./datapath-port.js";

type DesiredEndpoint = NodeDesiredState["endpoints"][number];

/** Identity of an endpoint the control plane has not named yet (Cilium's reserved:init). */
export const INIT_IDENTITY = 5;
const POD_POINTS: AttachPoint[] = ["from_pod", "to_pod"];
const PROTOCOL_NAMES: Record<number, Protocol> = {
  1: "icmp",
  6: "tcp",
  17: "udp",
  58: "icmpv6",
  132: "sctp",
};
const FLOW_HISTORY = 1000;

/** Why this machine cannot run the eBPF datapath, or null when it can. */
export function ebpfUnsupportedReason(pinDir: string = DEFAULT_PIN_DIR): string | null {
  if (process.getuid?.() !== 0) return "not running as root";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
  if (!isBpffs(path.dirname(pinDir)) && !isBpffs(pinDir))
    return `${path.dirname(pinDir)} is not a bpffs mount (mount -t bpf bpf /sys/fs/bpf)`;
  const missing = POD_POINTS.map((p) => objectPath(p)).find((f) => !existsSync(f));
  if (missing) return `BPF object ${missing} is not built (npm run build -w @meridian/bpf)`;
  return null;
}

/** A stable non-zero u32 for a rule id string (FNV-1a), so the map can name the rule that decided. */
export function ruleNumber(ruleId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ruleId.length; i++) {
    h ^= ruleId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** The desired state's entries for one endpoint as the policy compiler's rules. */
export function rulesOf(d: DesiredEndpoint): PolicyRule[] {
  return d.entries.map((e) => {
    const allPorts = e.portLow === 0 && e.portHigh === 65535;
    return {
      direction: e.direction,
      identity: e.remoteIdentity,
      protocol: e.protocol === 0 ? "any" : (PROTOCOL_NAMES[e.protocol] ?? "any"),
      ...(allPorts ? {} : { port: e.portLow, endPort: e.portHigh }),
      verdict: e.verdict,
      ruleId: ruleNumber(e.ruleId),
    };
  });
}

export function flagsOf(d: DesiredEndpoint): number {
  return (
    (d.policyEnforced.ingress ? EP_FLAGS.POLICY_INGRESS : 0) |
    (d.policyEnforced.egress ? EP_FLAGS.POLICY_EGRESS : 0)
  );
}

/** The control plane's entry for a local endpoint: by address first, then namespace/name. */
export function desiredEndpointFor(
  state: NodeDesiredState | undefined,
  ep: AgentEndpoint,
): DesiredEndpoint | undefined {
  if (!state) return undefined;
  return (
    state.endpoints.find(
      (d) =>
        (d.ipv4 !== undefined && ep.addresses.includes(d.ipv4)) ||
        (d.ipv6 !== undefined && ep.addresses.includes(d.ipv6)),
    ) ?? state.endpoints.find((d) => d.namespace === (ep.namespace ?? "default") && d.name === ep.podName)
  );
}

function hostPrefix(prefix: string): string {
  return prefix.includes("/") ? prefix : `${prefix}/${prefix.includes(":") ? 128 : 32}`;
}

export interface ApplySummary {
  endpoints: { written: number; removed: number };
  ipcache: { written: number; removed: number };
  policy: { added: number; updated: number; removed: number };
}

export interface EbpfDatapathOptions {
  pinDir?: string;
  log?: Logger;
  /** Conntrack entries idle longer than this are removed (default 10 min). */
  conntrackIdleMs?: number;
  /**
   * Network namespace (path) the host-side veths live in, when it is not the agent's own
   * (tests drive a datapath from outside the namespace).
   */
  netnsPath?: string;
}

export class EbpfDatapath implements Datapath {
  readonly name: string;
  readonly enforcing = true;
  readonly flows = new EventEmitter<{ flow: [FlowEvent] }>();
  private readonly endpoints = new Map<string, { ep: AgentEndpoint; ifindex: number }>();
  private state?: NodeDesiredState;
  private readonly ruleNames = new Map<number, string>();
  private readonly history: FlowEvent[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ring: RingBuffer;
  private readonly gcTimer: NodeJS.Timeout;
  /** What the last applyDesiredState changed (tests: the same state twice changes nothing). */
  lastApply?: ApplySummary;

  private constructor(
    private readonly dp: Loaded,
    private readonly log: Logger | undefined,
    conntrackIdleMs: number,
    private readonly netnsPath?: string,
  ) {
    this.name = `ebpf (tcx, maps pinned at ${dp.pinDir})`;
    this.ring = subscribeFlowEvents(dp.maps.maps.mdp_events, (events) => {
      for (const e of events) this.emitFlow(e);
    });
    this.gcTimer = setInterval(() => {
      this.serial(async () => this.dp.maps.gcConntrack(BigInt(conntrackIdleMs) * 1_000_000n)).catch((err) =>
        this.log?.warn({ err }, "conntrack GC failed"),
      );
    }, 60_000);
    this.gcTimer.unref();
  }

  /** Load the programs, creating the pins or adopting those a previous agent left. */
  static open(opts: EbpfDatapathOptions = {}): EbpfDatapath {
    const dp = Loaded.load({ pinDir: opts.pinDir ?? DEFAULT_PIN_DIR });
    return new EbpfDatapath(dp, opts.log, opts.conntrackIdleMs ?? 600_000, opts.netnsPath);
  }

  get pinDir(): string {
    return this.dp.pinDir;
  }

  /** Map writes and attaches run one at a time, in call order. */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  onEndpointAdded(ep: AgentEndpoint): Promise<void> {
    return this.serial(() => {
      const ns = this.netnsPath;
      const ifindex = ns ? runInNetns(ns, () => ifNameToIndex(ep.hostIfname)) : ifNameToIndex(ep.hostIfname);
      if (!ifindex) throw new Error(`host interface ${ep.hostIfname} of ${ep.id} does not exist`);
      this.endpoints.set(ep.id, { ep, ifindex });
      // Maps first, then the programs: the first packet the hook sees already meets the policy.
      const d = desiredEndpointFor(this.state, ep);
      for (const ip of ep.addresses) {
        const have = this.dp.maps.getEndpoint(ip);
        // Unknown to the control plane so far: an adopted entry keeps its identity and policy.
        if (!d && have?.ifindex === ifindex) continue;
        const want = this.endpointEntry(ip, ifindex, d);
        if (!sameEndpoint(have, want)) this.dp.maps.setEndpoint(ip, want);
      }
      if (d) this.dp.maps.setPolicy(ifindex, this.rememberRules(rulesOf(d), d));
      for (const point of POD_POINTS)
        this.dp.attach(point, { ifindex, name: ep.hostIfname, ...(ns ? { netnsPath: ns } : {}) });
    });
  }

  onEndpointRemoved(ep: AgentEndpoint): Promise<void> {
    return this.serial(() => {
      const known = this.endpoints.get(ep.id);
      this.endpoints.delete(ep.id);
      const epIds = new Set<number>(known ? [known.ifindex] : []);
      for (const ip of ep.addresses) {
        const have = this.dp.maps.getEndpoint(ip);
        if (have) epIds.add(have.epId);
        this.dp.maps.deleteEndpoint(ip);
      }
      for (const id of epIds) this.dp.maps.clearPolicy(id);
      for (const point of POD_POINTS) {
        try {
          this.dp.detach(point, { ifindex: known?.ifindex ?? 0, name: ep.hostIfname });
        } catch (err) {
          // The veth went with the pod's namespace: the link is gone already.
          this.log?.debug({ err, endpoint: ep.id, point }, "detach failed (device gone)");
        }
      }
    });
  }

  /**
   * Make the maps exactly what `state` says for the endpoints this agent manages: endpoint
   * entries, ipcache and every endpoint's policy. Only differences are written.
   */
  applyDesiredState(state: NodeDesiredState): Promise<void> {
    return this.serial(() => {
      this.state = state;
      const maps = this.dp.maps;
      const current = new Map(maps.listEndpoints().map((e) => [e.ip, e]));
      const wantEndpoints = new Map<string, Endpoint>();
      const wantPolicy = new Map<number, PolicyMapEntry[]>();
      const keepPolicy = new Set<number>();
      for (const { ep, ifindex } of this.endpoints.values()) {
        const d = desiredEndpointFor(state, ep);
        for (const ip of ep.addresses) {
          // Not yet known to the control plane: keep what it has (adopted) or start at init.
          const have = current.get(ip);
          wantEndpoints.set(ip, d || have?.ifindex !== ifindex ? this.endpointEntry(ip, ifindex, d) : have);
        }
        if (d) wantPolicy.set(ifindex, compilePolicy(ifindex, this.rememberRules(rulesOf(d), d)));
        else keepPolicy.add(ifindex);
      }
      const summary: ApplySummary = {
        endpoints: { written: 0, removed: 0 },
        ipcache: maps.syncIpcache(new Map(state.ipcache.map((e) => [hostPrefix(e.prefix), e.identity]))),
        policy: { added: 0, updated: 0, removed: 0 },
      };
      // Policy before endpoints: an endpoint whose flags turn enforcement on finds its allows there.
      const present = new Set(maps.policyEntries().map((e) => e.epId));
      for (const epId of new Set([...present, ...wantPolicy.keys()])) {
        if (keepPolicy.has(epId)) continue;
        const diff = maps.setPolicyEntries(epId, wantPolicy.get(epId) ?? []);
        summary.policy.added += diff.added;
        summary.policy.updated += diff.updated;
        summary.policy.removed += diff.removed;
      }
      summary.endpoints = maps.syncEndpoints(wantEndpoints);
      this.lastApply = summary;
      const changed =
        summary.endpoints.written +
        summary.endpoints.removed +
        summary.ipcache.written +
        summary.ipcache.removed;
      const policyChanged = summary.policy.added + summary.policy.updated + summary.policy.removed;
      if (changed + policyChanged > 0)
        this.log?.info({ revision: state.revision, ...summary }, "datapath reconciled");
    });
  }

  private endpointEntry(_ip: string, ifindex: number, d: DesiredEndpoint | undefined): Endpoint {
    return { epId: ifindex, ifindex, identity: d?.identity ?? INIT_IDENTITY, flags: d ? flagsOf(d) : 0 };
  }

  private rememberRules(rules: PolicyRule[], d: DesiredEndpoint): PolicyRule[] {
    for (const e of d.entries) this.ruleNames.set(ruleNumber(e.ruleId), e.ruleId);
    return rules;
  }

  /** What the kernel holds for an endpoint, read back from the maps. */
  async policyFor(ep: AgentEndpoint): Promise<unknown> {
    return this.serial(() => {
      const entries = ep.addresses.map((ip) => ({ ip, entry: this.dp.maps.getEndpoint(ip) }));
      const first = entries.find((e) => e.entry)?.entry;
      const attached = POD_POINTS.filter((p) =>
        existsSync(path.join(this.dp.pinDir, "links", `${ep.hostIfname.replaceAll(".", "_")}-${p}`)),
      );
      return {
        enforced: true,
        pinDir: this.dp.pinDir,
        attached,
        endpoint: first
          ? {
              epId: first.epId,
              identity: first.identity,
              ingressEnforced: (first.flags & EP_FLAGS.POLICY_INGRESS) !== 0,
              egressEnforced: (first.flags & EP_FLAGS.POLICY_EGRESS) !== 0,
            }
          : null,
        addresses: entries.map((e) => ({ ip: e.ip, inMap: e.entry !== null })),
        entries: first ? this.dp.maps.policyEntries(first.epId).map((e) => this.describeEntry(e)) : [],
      };
    });
  }

  private describeEntry(e: PolicyMapEntry) {
    const portBits = e.prefixlen >= POLICY_PREFIX.PROTO ? e.prefixlen - POLICY_PREFIX.PROTO : 0;
    const span = 2 ** (16 - portBits);
    const all = e.prefixlen <= POLICY_PREFIX.PROTO;
    return {
      direction: e.direction === DIRECTION.INGRESS ? "ingress" : "egress",
      remoteIdentity: e.identity,
      protocol: e.protocol,
      portLow: all ? 0 : e.port,
      portHigh: all ? 65535 : e.port + span - 1,
      verdict: e.verdict === VERDICT.ALLOW ? "allow" : "deny",
      ruleId: this.ruleNames.get(e.ruleId) ?? `#${e.ruleId}`,
    };
  }

  counters(): CounterRow[] {
    return this.dp.maps.readCounters();
  }

  recentFlows(): FlowEvent[] {
    return [...this.history];
  }

  private emitFlow(e: KernelFlowEvent): void {
    const ep = [...this.endpoints.values()].find((x) => x.ifindex === e.epId || x.ifindex === e.ifindex);
    const flow: FlowEvent = {
      time: new Date().toISOString(),
      src: e.src,
      dst: e.dst,
      proto: PROTOCOL_NAMES[e.protocol] ?? String(e.protocol),
      ...(e.sport ? { sport: e.sport } : {}),
      ...(e.dport ? { dport: e.dport } : {}),
      verdict: e.verdict,
      ...(e.verdict === "dropped" ? { reason: e.reason } : {}),
      ...(ep ? { endpoint: ep.ep.id } : {}),
      direction: e.point === "to_pod" ? "ingress" : "egress",
      ...(e.ruleId ? { ruleId: this.ruleNames.get(e.ruleId) ?? `#${e.ruleId}` } : {}),
      srcIdentity: e.srcIdentity,
      dstIdentity: e.dstIdentity,
      bytes: e.bytes,
    };
    this.history.push(flow);
    if (this.history.length > FLOW_HISTORY) this.history.shift();
    this.flows.emit("flow", flow);
  }

  async close(): Promise<void> {
    clearInterval(this.gcTimer);
    await this.queue;
    this.ring.close();
    // Handles only: pinned maps and links stay, so traffic keeps flowing without us.
    this.dp.close();
  }
}

function sameEndpoint(a: Endpoint | null, b: Endpoint): boolean {
  return (
    a !== null &&
    a.epId === b.epId &&
    a.identity === b.identity &&
    a.ifindex === b.ifindex &&
    a.flags === b.flags
  );
}
