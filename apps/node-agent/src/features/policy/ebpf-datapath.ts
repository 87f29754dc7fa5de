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
  type DatapathMaps,
  DEFAULT_PIN_DIR,
  DIRECTION,
  deleteBatch,
  type Endpoint,
  EP_FLAGS,
  encodePolicyKey,
  encodePolicyValue,
  endpointInfo,
  endpointKey,
  ipcacheKey,
  type FlowEvent as KernelFlowEvent,
  Datapath as Loaded,
  mapEntries,
  POLICY_PREFIX,
  type PolicyMapEntry,
  type PolicyRule,
  type Protocol,
  parseAddr,
  parseCidr,
  subscribeFlowEvents,
  VERDICT,
  writeBatch,
} from "../../datapath/index.js";
import type { NodeDesiredState } from "../../sync/channel.js";
import type { AgentEndpoint, Datapath, FlowEvent } from "./datapath.js";

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
  /** Established flows re-judged after the last apply that changed anything, and how many lost their entry. */
  lastRevalidation?: { checked: number; revoked: number; restored: number };

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
   *
   * All or nothing: every entry is validated and encoded before the first kernel write, so a
   * malformed state is refused as a whole with an error naming the object (`endpoint shop/db-1:
   * policy rule "…": port 70000 out of range`). A kernel write that fails midway (map full) undoes
   * this apply's writes, leaving the maps as they were, and the error names what failed.
   */
  applyDesiredState(state: NodeDesiredState): Promise<void> {
    return this.serial(() => {
      validateDesiredState(state);
      const maps = this.dp.maps;
      const current = new Map(
        mapEntries(maps.maps.mdp_endpoints).map(([k, v]) => [k.toString("hex"), Buffer.from(v)]),
      );
      // ip → (key, entry, endpoint label), everything encoded up front.
      const wantEndpoints = new Map<string, { ip: string; key: Buffer; value: Buffer; label: string }>();
      const wantPolicy = new Map<number, { label: string; entries: PolicyMapEntry[] }>();
      const keepPolicy = new Set<number>();
      for (const { ep, ifindex } of this.endpoints.values()) {
        const d = desiredEndpointFor(state, ep);
        const label = d ? endpointLabel(d) : `endpoint ${ep.namespace ?? "default"}/${ep.podName ?? ep.id}`;
        for (const ip of ep.addresses) {
          const key = named(`${label} (${ip})`, () => endpointKeyOf(ip));
          const hex = key.toString("hex");
          const haveBuf = current.get(hex);
          const have = haveBuf ? decodeEndpoint(haveBuf) : null;
          // Not yet known to the control plane: keep what it has (adopted) or start at init.
          const entry =
            d || have?.ifindex !== ifindex ? this.endpointEntry(ip, ifindex, d) : (have as Endpoint);
          wantEndpoints.set(hex, { ip, key, value: encodeEndpoint(entry), label });
        }
        if (d) {
          const entries = named(label, () => {
            const compiled = compilePolicy(ifindex, rulesOf(d));
            for (const e of compiled) {
              encodePolicyKey(e);
              encodePolicyValue(e);
            }
            return compiled;
          });
          wantPolicy.set(ifindex, { label, entries });
        } else keepPolicy.add(ifindex);
      }
      const wantIpcache = new Map(state.ipcache.map((e) => [hostPrefix(e.prefix), e.identity]));

      // Nothing written yet. From here on a failure restores these three maps.
      const before = snapshot(maps);
      const summary: ApplySummary = {
        endpoints: { written: 0, removed: 0 },
        ipcache: { written: 0, removed: 0 },
        policy: { added: 0, updated: 0, removed: 0 },
      };
      try {
        summary.ipcache = named(`ipcache (${wantIpcache.size} entries)`, () => maps.syncIpcache(wantIpcache));
        // Policy before endpoints: an endpoint whose flags turn enforcement on finds its allows there.
        const present = new Set(maps.policyEntries().map((e) => e.epId));
        for (const epId of new Set([...present, ...wantPolicy.keys()])) {
          if (keepPolicy.has(epId)) continue;
          const want = wantPolicy.get(epId);
          const diff = named(`${want?.label ?? `stale endpoint #${epId}`}: policy`, () =>
            maps.setPolicyEntries(epId, want?.entries ?? []),
          );
          summary.policy.added += diff.added;
          summary.policy.updated += diff.updated;
          summary.policy.removed += diff.removed;
        }
        // New and changed endpoint entries first, then the ones no longer wanted.
        for (const [hex, w] of wantEndpoints) {
          if (current.get(hex)?.equals(w.value)) continue;
          named(`${w.label} (${w.ip})`, () => maps.maps.mdp_endpoints.update(w.key, w.value));
          summary.endpoints.written++;
        }
        for (const hex of current.keys()) {
          if (wantEndpoints.has(hex)) continue;
          named(`stale endpoint entry ${hex}`, () => maps.maps.mdp_endpoints.delete(Buffer.from(hex, "hex")));
          summary.endpoints.removed++;
        }
      } catch (err) {
        let outcome = "the maps were restored to the last good state";
        try {
          restore(maps, before);
        } catch (undoErr) {
          outcome = `restoring the last good state failed too: ${(undoErr as Error).message}`;
          this.log?.error({ err: undoErr }, "datapath rollback failed");
        }
        throw new Error(`${(err as Error).message}; ${outcome}`, { cause: err });
      }
      this.state = state;
      for (const d of state.endpoints) this.rememberRules([], d);
      this.lastApply = summary;
      const changed =
        summary.endpoints.written +
        summary.endpoints.removed +
        summary.ipcache.written +
        summary.ipcache.removed;
      const policyChanged = summary.policy.added + summary.policy.updated + summary.policy.removed;
      if (changed + policyChanged > 0) {
        // A narrower policy must also stop the flows it no longer allows, not only new ones:
        // their conntrack entries go, so their next packet meets the policy.
        let conntrack: { checked: number; revoked: number; restored: number } | undefined;
        try {
          conntrack = maps.revalidateConntrack();
          this.lastRevalidation = conntrack;
        } catch (err) {
          this.log?.warn({ err }, "conntrack revalidation failed; established flows keep their verdict");
        }
        this.log?.info({ revision: state.revision, ...summary, conntrack }, "datapath reconciled");
      }
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

const U32_MAX = 0xffffffff;
const MAPS_UNDONE = ["mdp_ipcache", "mdp_policy", "mdp_endpoints"] as const;
type Snapshot = Record<(typeof MAPS_UNDONE)[number], Map<string, Buffer>>;

function endpointLabel(d: DesiredEndpoint): string {
  return `endpoint ${d.namespace}/${d.name}`;
}

/** Run `fn`, prefixing any error with the object it was working on. */
function named<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

function checkU32(what: string, n: unknown): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > U32_MAX)
    throw new RangeError(`${what} ${String(n)} out of range`);
}

function checkPort(n: unknown): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new RangeError(`port ${String(n)} out of range`);
}

/**
 * Everything in the state must encode before anything is written: addresses, prefixes,
 * identities, protocols and ports. Throws naming the first object that does not.
 */
export function validateDesiredState(state: NodeDesiredState): void {
  for (const d of state.endpoints) {
    const label = endpointLabel(d);
    named(label, () => {
      checkU32("identity", d.identity);
      for (const ip of [d.ipv4, d.ipv6]) if (ip !== undefined) endpointKeyOf(ip);
    });
    for (const e of d.entries) {
      named(`${label}: policy rule ${JSON.stringify(e.ruleId)}`, () => {
        if (e.direction !== "ingress" && e.direction !== "egress")
          throw new RangeError(`unknown direction ${JSON.stringify(e.direction)}`);
        if (e.verdict !== "allow" && e.verdict !== "deny")
          throw new RangeError(`unknown verdict ${JSON.stringify(e.verdict)}`);
        if (e.protocol !== 0 && PROTOCOL_NAMES[e.protocol] === undefined)
          throw new RangeError(`unknown protocol ${String(e.protocol)}`);
        checkU32("remote identity", e.remoteIdentity);
        checkPort(e.portLow);
        checkPort(e.portHigh);
        if (e.portLow > e.portHigh) throw new RangeError(`empty port range ${e.portLow}-${e.portHigh}`);
      });
    }
  }
  for (const e of state.ipcache) {
    named(`ipcache entry ${JSON.stringify(e.prefix)}`, () => {
      const c = parseCidr(hostPrefix(e.prefix));
      ipcacheKey.encode({ prefixlen: 32 + c.prefix, family: c.family, addr: c.bytes });
      checkU32("identity", e.identity);
    });
  }
}

function endpointKeyOf(ip: string): Buffer {
  const a = parseAddr(ip);
  return endpointKey.encode({ addr: a.bytes, family: a.family });
}

function encodeEndpoint(ep: Endpoint): Buffer {
  return endpointInfo.encode({ ep_id: ep.epId, identity: ep.identity, ifindex: ep.ifindex, flags: ep.flags });
}

function decodeEndpoint(v: Buffer): Endpoint {
  const d = endpointInfo.decode(v);
  return { epId: d.ep_id, identity: d.identity, ifindex: d.ifindex, flags: d.flags };
}

function snapshot(maps: DatapathMaps): Snapshot {
  const out = {} as Snapshot;
  for (const n of MAPS_UNDONE)
    out[n] = new Map(mapEntries(maps.maps[n]).map(([k, v]) => [k.toString("hex"), Buffer.from(v)]));
  return out;
}

/** Put the maps back to `before`: delete what was added first (frees room), then rewrite the rest. */
function restore(maps: DatapathMaps, before: Snapshot): void {
  for (const n of MAPS_UNDONE) {
    const map = maps.maps[n];
    const was = before[n];
    const now = new Map(mapEntries(map).map(([k, v]) => [k.toString("hex"), v]));
    deleteBatch(
      map,
      [...now.keys()].filter((id) => !was.has(id)).map((id) => Buffer.from(id, "hex")),
    );
    const back = [...was].filter(([id, v]) => !now.get(id)?.equals(v));
    writeBatch(
      map,
      back.map(([id]) => Buffer.from(id, "hex")),
      back.map(([, v]) => v),
    );
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
