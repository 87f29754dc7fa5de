// The real datapath behind the policy subsystem: loads (or adopts) the eBPF programs and pinned
// maps under one pin directory per node, attaches from_pod/to_pod to every endpoint's host veth
// with tcx, and turns the control plane's desired state into map entries, applying only the
// difference. The ipcache holds the union of its owners' claims (datapath/ipcache-owners.ts).
// Programs and maps stay when the agent stops: traffic keeps its verdicts.
import { EventEmitter } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { objectPath } from "@meridian/bpf";
import { ifNameToIndex, isBpffs, type RingBuffer, runInNetns } from "@meridian/native";
import type { Logger } from "pino";
import type { AgentEndpoint } from "../../agent/endpoints.js";
import {
  type AttachPoint,
  type CounterRow,
  DEFAULT_PIN_DIR,
  DIRECTION,
  type Endpoint,
  EP_FLAGS,
  encodePolicyKey,
  encodePolicyValue,
  endpointInfo,
  type IpcacheClaim,
  IpcacheClaims,
  type IpcacheOwner,
  isEnforcementMarker,
  type FlowEvent as KernelFlowEvent,
  mapEntries,
  PinnedDatapath,
  POLICY_PREFIX,
  type PolicyMapEntry,
  type SyncDiff,
  subscribeFlowEvents,
  VERDICT,
  withRollback,
} from "../../datapath/index.js";
import { type NodeDesiredState, ReservedIdentity } from "../../sync/channel.js";
import type { FlowEvent, PolicyDatapath } from "./datapath.js";
import {
  type EndpointPlan,
  type PolicyPlan,
  reconcileEndpoints,
  reconcileIpcache,
  reconcilePolicy,
} from "./reconcile.js";
import {
  DEFAULT_DENY_RULE,
  type DefaultDenyCause,
  type DesiredEndpoint,
  desiredEndpointFor,
  endpointKeyOf,
  endpointLabel,
  enforcementOf,
  flagsOf,
  named,
  PROTOCOL_NAMES,
  policyEntriesOf,
  policyOfRule,
  ruleNumber,
  validateDesiredState,
  validateIpcacheEntry,
} from "./translate.js";

const POD_POINTS: AttachPoint[] = ["from_pod", "to_pod"];
const UPLINK_POINTS: AttachPoint[] = ["from_net", "to_net"];
const FLOW_HISTORY = 1000;
/** The maps a desired state writes; a failure anywhere restores all three. */
const DESIRED_STATE_MAPS = ["mdp_ipcache", "mdp_policy", "mdp_endpoints"] as const;

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

export class EbpfDatapath implements PolicyDatapath {
  readonly name: string;
  readonly enforcing = true;
  readonly flows = new EventEmitter<{ flow: [FlowEvent] }>();
  private readonly endpoints = new Map<string, { ep: AgentEndpoint; ifindex: number }>();
  private state?: NodeDesiredState;
  /** Every owner's ipcache claims as the kernel holds them (their union) since the last sync. */
  private claims = IpcacheClaims.none;
  private readonly ruleNames = new Map<number, string>();
  /** Enforcement-marker numbers → the policies whose selection default-denies (bpf/lib/policy.h). */
  private readonly defaultDenies = new Map<number, DefaultDenyCause>();
  private readonly history: FlowEvent[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ring: RingBuffer;
  private readonly gcTimer: NodeJS.Timeout;
  /** What the last applyDesiredState changed (tests: the same state twice changes nothing). */
  lastApply?: ApplySummary;
  /** Established flows re-judged after the last apply that changed anything, and how many lost their entry. */
  lastRevalidation?: { checked: number; revoked: number; restored: number };

  private constructor(
    private readonly dp: PinnedDatapath,
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
    const dp = PinnedDatapath.load({ pinDir: opts.pinDir ?? DEFAULT_PIN_DIR });
    // An upgrade may have met pins of another version: say what it changed.
    for (const note of dp.migrations) opts.log?.warn({ pinDir: dp.pinDir }, `datapath upgrade: ${note}`);
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
      if (d) {
        this.rememberRules(d);
        this.dp.maps.setPolicyEntries(ifindex, policyEntriesOf(ifindex, d));
      }
      for (const point of POD_POINTS)
        this.dp.attach(point, { ifindex, name: ep.hostIfname, ...(ns ? { netnsPath: ns } : {}) });
    });
  }

  /**
   * The uplink programs (from_net, to_net) on exactly the interfaces in `ifnames`: attached (or
   * kept) there, detached from any other interface that had them. Features that act on the
   * uplink (the egress gateway's SNAT and its reverse) ask for it; pod traffic does not need it.
   */
  setUplinks(ifnames: string[]): Promise<{ attached: string[]; detached: string[] }> {
    return this.serial(() => {
      const ns = this.netnsPath;
      const want = new Set(ifnames);
      // Pins spell a dot as "_" (bpffs refuses dots): compare in that spelling.
      const pinned = new Set(ifnames.map((n) => n.replaceAll(".", "_")));
      const detached: string[] = [];
      for (const name of this.uplinks()) {
        if (pinned.has(name)) continue;
        for (const point of UPLINK_POINTS) this.dp.detach(point, { ifindex: 0, name });
        detached.push(name);
      }
      for (const name of want) {
        const ifindex = ns ? runInNetns(ns, () => ifNameToIndex(name)) : ifNameToIndex(name);
        if (!ifindex) throw new Error(`uplink interface ${name} does not exist`);
        for (const point of UPLINK_POINTS)
          this.dp.attach(point, { ifindex, name, ...(ns ? { netnsPath: ns } : {}) });
      }
      return { attached: [...want], detached };
    });
  }

  /** Interfaces the uplink programs are attached to (by their pinned links, "." spelled "_"). */
  uplinks(): string[] {
    const dir = path.join(this.dp.pinDir, "links");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith("-from_net"))
      .map((f) => f.slice(0, -"-from_net".length));
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
   * entries, the control plane's ipcache claims and every endpoint's policy. Only differences are
   * written.
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
      const endpoints = this.planEndpoints(state);
      const policy = this.planPolicy(state);
      const claims = this.claims.withClaims("control-plane", state.ipcache);
      // Nothing written yet. From here on a failure restores the three maps.
      const summary: ApplySummary = withRollback(
        maps,
        DESIRED_STATE_MAPS,
        () => ({
          ipcache: reconcileIpcache(maps, claims),
          // Policy before endpoints: an endpoint whose flags turn enforcement on finds its allows there.
          policy: reconcilePolicy(maps, policy),
          endpoints: reconcileEndpoints(maps, endpoints),
        }),
        this.log,
      );
      this.claims = claims;
      this.state = state;
      for (const d of state.endpoints) this.rememberRules(d);
      this.lastApply = summary;
      const changed =
        summary.endpoints.written +
        summary.endpoints.removed +
        summary.ipcache.written +
        summary.ipcache.removed +
        summary.policy.added +
        summary.policy.updated +
        summary.policy.removed;
      if (changed > 0) {
        const conntrack = this.revalidateConntrack();
        this.log?.info({ revision: state.revision, ...summary, conntrack }, "datapath reconciled");
      }
    });
  }

  /**
   * Replaces `owner`'s ipcache claims; the control plane's and every other owner's stay. The kernel
   * map becomes the new union; a failed write leaves the previous union in force.
   *
   * Incremental: the DNS proxy holds an answer until its addresses are in force, so only the
   * prefixes whose identity in force changes are written (one map update each), worked out from
   * the in-memory owner table; neither the ipcache nor conntrack is read here. Established flows
   * are re-judged afterwards, off the answer's path (scheduleRevalidation). The next desired
   * state's full sync still heals any difference between the table and the kernel.
   */
  claimIpcache(owner: Exclude<IpcacheOwner, "control-plane">, entries: IpcacheClaim[]): Promise<SyncDiff> {
    return this.serial(() => {
      if ((owner as IpcacheOwner) === "control-plane")
        throw new Error("the control plane's ipcache entries come with its desired state");
      for (const e of entries) validateIpcacheEntry(e);
      const claims = this.claims.withClaims(owner, entries);
      const changes = this.claims.changesTo(claims, owner);
      const diff = this.dp.maps.applyIpcacheChanges(changes);
      this.claims = claims;
      if (diff.written + diff.removed > 0) {
        this.scheduleRevalidation();
        this.log?.debug({ owner, ipcache: diff }, "ipcache claims written");
      }
      return diff;
    });
  }

  private revalidationPending?: Promise<void>;

  /**
   * One conntrack revalidation for any number of claims in a row, queued behind them: the claims
   * resolve first. Resolves once it ran (tests await it through `settled`).
   */
  private scheduleRevalidation(): void {
    if (this.revalidationPending) return;
    this.revalidationPending = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.serial(() => {
        this.revalidationPending = undefined;
        const conntrack = this.revalidateConntrack();
        this.log?.info({ conntrack }, "ipcache claims synced; established flows re-judged");
      }),
    );
  }

  /** Resolves when every queued map write, and the revalidation a claim scheduled, is done. */
  async settled(): Promise<void> {
    await this.revalidationPending;
    await this.queue;
  }

  adoptIpcacheClaims(owner: Exclude<IpcacheOwner, "control-plane">, entries: IpcacheClaim[]): void {
    for (const e of entries) validateIpcacheEntry(e);
    this.claims = this.claims.withClaims(owner, entries);
  }

  /** The endpoint map as the managed endpoints and `state` want it, every entry encoded. */
  private planEndpoints(state: NodeDesiredState): EndpointPlan {
    const current = new Map(
      mapEntries(this.dp.maps.maps.mdp_endpoints).map(([k, v]) => [k.toString("hex"), Buffer.from(v)]),
    );
    const want: EndpointPlan["want"] = new Map();
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
        want.set(hex, { ip, key, value: encodeEndpoint(entry), label });
      }
    }
    return { current, want };
  }

  /** Each managed endpoint's compiled policy; endpoints the control plane has not named keep theirs. */
  private planPolicy(state: NodeDesiredState): PolicyPlan {
    const plan: PolicyPlan = { want: new Map(), keep: new Set() };
    for (const { ep, ifindex } of this.endpoints.values()) {
      const d = desiredEndpointFor(state, ep);
      if (!d) {
        plan.keep.add(ifindex);
        continue;
      }
      const label = endpointLabel(d);
      const entries = named(label, () => {
        const compiled = policyEntriesOf(ifindex, d);
        for (const e of compiled) {
          encodePolicyKey(e);
          encodePolicyValue(e);
        }
        return compiled;
      });
      plan.want.set(ifindex, { label, entries });
    }
    return plan;
  }

  /**
   * A narrower policy (or a changed identity) must also stop the flows it no longer allows, not
   * only new ones: established flows are re-judged against the maps now in force.
   */
  private revalidateConntrack(): { checked: number; revoked: number; restored: number } | undefined {
    try {
      this.lastRevalidation = this.dp.maps.revalidateConntrack();
      return this.lastRevalidation;
    } catch (err) {
      this.log?.warn({ err }, "conntrack revalidation failed; established flows keep their verdict");
      return undefined;
    }
  }

  private endpointEntry(_ip: string, ifindex: number, d: DesiredEndpoint | undefined): Endpoint {
    return {
      epId: ifindex,
      ifindex,
      identity: d?.identity ?? ReservedIdentity.init,
      flags: d ? flagsOf(d) : 0,
    };
  }

  /** Rule and enforcement-marker numbers of `d`, so events and map dumps can name them. */
  private rememberRules(d: DesiredEndpoint): void {
    for (const e of d.entries) this.ruleNames.set(ruleNumber(e.ruleId), e.ruleId);
    for (const m of enforcementOf(d))
      this.defaultDenies.set(m.ruleId, { direction: m.direction, policies: m.policies });
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
      verdict: isEnforcementMarker(e) ? "default-deny" : e.verdict === VERDICT.ALLOW ? "allow" : "deny",
      ruleId: this.ruleName(e.ruleId),
    };
  }

  counters(): CounterRow[] {
    return this.dp.maps.readCounters();
  }

  recentFlows(): FlowEvent[] {
    return [...this.history];
  }

  /** A rule number as the name of its rule, or of the default deny it marks. */
  private ruleName(n: number): string {
    const cause = this.defaultDenies.get(n);
    if (cause) return `${DEFAULT_DENY_RULE} (${cause.policies.join(", ")})`;
    return this.ruleNames.get(n) ?? `#${n}`;
  }

  /** What decided: the rule and its policy, or for a default deny the policies that enforce it. */
  private decidedBy(n: number): Pick<FlowEvent, "ruleId" | "policies"> {
    if (!n) return {};
    const cause = this.defaultDenies.get(n);
    if (cause) return { ruleId: DEFAULT_DENY_RULE, policies: [...cause.policies] };
    const name = this.ruleNames.get(n);
    return name ? { ruleId: name, policies: [policyOfRule(name)] } : { ruleId: `#${n}` };
  }

  /** The other side as the control plane names it, when it is a pod of the cluster. */
  private peerOf(ip: string): Pick<FlowEvent, "peerNamespace" | "peerPod"> {
    const peer = this.state?.endpoints.find((d) => d.ipv4 === ip || d.ipv6 === ip);
    return peer ? { peerNamespace: peer.namespace, peerPod: peer.name } : {};
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
      ...(ep?.ep.podName ? { namespace: ep.ep.namespace ?? "default", pod: ep.ep.podName } : {}),
      ...this.peerOf(e.point === "to_pod" ? e.src : e.dst),
      direction: e.point === "to_pod" ? "ingress" : "egress",
      ...this.decidedBy(e.ruleId),
      srcIdentity: e.srcIdentity,
      dstIdentity: e.dstIdentity,
      bytes: e.bytes,
      ...(e.suppressed ? { suppressed: e.suppressed } : {}),
    };
    this.history.push(flow);
    if (this.history.length > FLOW_HISTORY) this.history.shift();
    this.flows.emit("flow", flow);
  }

  async close(): Promise<void> {
    clearInterval(this.gcTimer);
    await this.settled();
    this.ring.close();
    // Handles only: pinned maps and links stay, so traffic keeps flowing without us.
    this.dp.close();
  }
}

function encodeEndpoint(ep: Endpoint): Buffer {
  return endpointInfo.encode({ ep_id: ep.epId, identity: ep.identity, ifindex: ep.ifindex, flags: ep.flags });
}

function decodeEndpoint(v: Buffer): Endpoint {
  const d = endpointInfo.decode(v);
  return { epId: d.ep_id, identity: d.identity, ifindex: d.ifindex, flags: d.flags };
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
