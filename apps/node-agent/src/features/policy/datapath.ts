// What the policy subsystem drives: the eBPF datapath (ebpf-datapath.ts) or, where the machine
// cannot run it, a stand-in that enforces nothing and says so. CNI ADD awaits onEndpointAdded
// before it returns, so with the real datapath a pod's first packet already meets its policy.
import { EventEmitter } from "node:events";
import type { AgentEndpoint } from "../../agent/endpoints.js";
import type { IpcacheClaim, IpcacheOwner, SyncDiff } from "../../datapath/index.js";
import type { NodeDesiredState } from "../../sync/channel.js";

export interface FlowEvent {
  time: string;
  src: string;
  dst: string;
  proto: string;
  sport?: number;
  dport?: number;
  verdict: "forwarded" | "dropped" | "redirected";
  reason?: string;
  endpoint?: string;
  /** The local endpoint's pod. */
  namespace?: string;
  pod?: string;
  /** The other side, when the node's desired state knows it as a pod. */
  peerNamespace?: string;
  peerPod?: string;
  /** Policy direction of the endpoint that saw it: egress (from the pod) or ingress (to it). */
  direction?: "ingress" | "egress";
  /**
   * The rule that decided (`ns/policy/ingress[0]`), or `default-deny` when the endpoint's policy
   * enforcement and no rule did; `policies` then names the policies whose selection enforces it.
   */
  ruleId?: string;
  /** The deciding rule's policy, or for a default deny every policy that enforces that direction. */
  policies?: string[];
  /** Drop events of this reason the datapath's rate limit held back just before this one. */
  suppressed?: number;
  srcIdentity?: number;
  dstIdentity?: number;
  /** Size of the packet the event is about. */
  bytes?: number;
}

/** One datapath counter: packets and bytes by attach point and reason (0 = forwarded). */
export interface DatapathCounter {
  point: string;
  reason: string;
  reasonCode: number;
  packets: bigint;
  bytes: bigint;
}

export interface PolicyDatapath {
  /** Shown by `meridian-agent status`. */
  readonly name: string;
  /** False when nothing polices traffic: status says so loudly. */
  readonly enforcing: boolean;
  /** Must be idempotent: a repeated ADD or an agent restart calls it again for the same endpoint. */
  onEndpointAdded(ep: AgentEndpoint): Promise<void>;
  /** Must succeed for an endpoint it never saw (DEL is idempotent). */
  onEndpointRemoved(ep: AgentEndpoint): Promise<void>;
  /**
   * The node's desired state from the control plane: endpoint identities, the control plane's
   * ipcache claims, per-endpoint policy. Diff-based and idempotent; throwing rejects the state
   * and keeps the last one in force.
   */
  applyDesiredState(state: NodeDesiredState): Promise<void>;
  /**
   * Replaces one owner's ipcache claims (not the control plane's: those come with its desired
   * state); the kernel holds every owner's union (datapath/ipcache-owners.ts). All or nothing.
   */
  claimIpcache(owner: Exclude<IpcacheOwner, "control-plane">, claims: IpcacheClaim[]): Promise<SyncDiff>;
  /**
   * After an agent restart, before the first desired state: the claims `owner` held, which the
   * pinned ipcache still has. Nothing is written now; the next sync keeps them in the union instead
   * of removing them (which would also revoke the flows that use them).
   */
  adoptIpcacheClaims(owner: Exclude<IpcacheOwner, "control-plane">, claims: IpcacheClaim[]): void;
  /** The policy the datapath holds for an endpoint, for `meridian-agent policy`. */
  policyFor(ep: AgentEndpoint): Promise<unknown>;
  /** Flow events, for `meridian-agent flows --follow`. */
  readonly flows: EventEmitter<{ flow: [FlowEvent] }>;
  /** The last flow events, for `meridian-agent flows` without --follow. */
  recentFlows(): FlowEvent[];
  /** Packet counters per attach point and reason, for /metrics. */
  counters(): DatapathCounter[];
  close(): Promise<void>;
}

/**
 * Stand-in used only while no eBPF datapath is available: it records endpoints so the rest
 * of the agent behaves normally, but it programs nothing and enforces nothing — traffic
 * between pods is plainly routed. The name says so wherever it is shown.
 */
export class UnenforcedDatapath implements PolicyDatapath {
  readonly name: string;
  readonly enforcing = false;
  readonly flows = new EventEmitter<{ flow: [FlowEvent] }>();
  readonly endpoints = new Map<string, AgentEndpoint>();

  /** `reason`: why the eBPF datapath is not loaded (shown in status). */
  constructor(readonly reason = "no eBPF datapath loaded") {
    this.name = `unenforced (${reason}: traffic is routed, not policed)`;
  }

  async onEndpointAdded(ep: AgentEndpoint): Promise<void> {
    this.endpoints.set(ep.id, ep);
  }
  async onEndpointRemoved(ep: AgentEndpoint): Promise<void> {
    this.endpoints.delete(ep.id);
  }
  async applyDesiredState(): Promise<void> {}
  async claimIpcache(): Promise<SyncDiff> {
    return { written: 0, removed: 0 };
  }
  adoptIpcacheClaims(): void {}
  async policyFor(): Promise<unknown> {
    return { enforced: false, note: `${this.reason}; no policy is enforced on this node` };
  }
  recentFlows(): FlowEvent[] {
    return [];
  }
  counters(): DatapathCounter[] {
    return [];
  }
  async close(): Promise<void> {}
}
