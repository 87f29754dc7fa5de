// The flow → fix loop: for a flow dropped by default deny, the smallest rule that would allow it —
// the peer by its labels (or its address, or its reserved entity), the port and protocol, in the
// direction it was dropped — on the policy that put the pod under enforcement, or as a new policy
// of its own. Each fix is checked before it is offered: the snapshot with the fix applied is
// compiled and the same flow evaluated against the entries the datapath would enforce.
import {
  type ClusterSnapshot,
  compileNodeState,
  type Entity,
  evaluateEntries,
  lookupIpcache,
  NAMESPACE_LABEL,
  type NetworkPolicySpec,
  PROTOCOL_NUMBERS,
  type Protocol,
  policyKey,
  type SnapshotEndpoint,
  type SnapshotPolicy,
  whatIf,
} from "@meridian/model";
import type { FlowRecord } from "./service";

export interface FlowFix {
  /** `existing`: one rule added to the policy that enforces the default deny; `new`: a policy of its own. */
  kind: "existing" | "new";
  direction: "ingress" | "egress";
  /** The policy the rule goes into (`ns/name`); for a new one, the name proposed. */
  policy: string;
  /** The stored policy's id and version the edit starts from (existing only). */
  policyId?: string;
  version?: number;
  namespace: string;
  name: string;
  /** The rule added, as Cilium writes it, and where it lands (`ingress[2]`). */
  rule: Record<string, unknown>;
  ruleIndex: number;
  /** The policy's whole spec with the rule in place: what the editor opens with. */
  spec: NetworkPolicySpec;
  /** The rule in words ("allow ingress from shop pods app=web on TCP 5432"). */
  words: string;
  /** The verdict the compiled fix gives the same flow in the direction it was dropped. */
  verdict: "allow" | "deny";
  /** The compiler's reason for that verdict, and for a flow between two pods the whole path's. */
  reason: string;
  wholePath?: { verdict: "allow" | "deny"; reason: string };
}

export interface FlowFixes {
  fixes: FlowFix[];
  /** Why no fix is offered, when none is. */
  none?: string;
}

const PROTOCOLS: Record<string, Protocol> = {
  tcp: "TCP",
  udp: "UDP",
  sctp: "SCTP",
  icmp: "ICMP",
  icmpv6: "ICMPv6",
};

/** Labels that name one pod or one rollout: a rule on them would stop matching at the next rollout. */
const VOLATILE_LABEL =
  /(^|:)(pod-template-hash|controller-revision-hash|pod-template-generation|statefulset\.kubernetes\.io\/pod-name)$/;
/** Labels Meridian and Cilium add themselves (namespace, cluster, service account): not the pod's own. */
const RESERVED_LABEL = /(^|:)io\.(kubernetes|cilium)\./;
/** The label people select a workload by, when the pod has one. */
const APP_LABELS = ["app", "app.kubernetes.io/name", "k8s-app", "name"];

/** The peer's own labels a selector should use: its app label alone, else every stable one. */
export function peerSelectorLabels(labels: Record<string, string>): Record<string, string> {
  const bare = (k: string) => k.replace(/^[a-z0-9-]+:/, "");
  for (const key of APP_LABELS) {
    const found = Object.keys(labels).find((k) => bare(k) === key);
    if (found) return { [key]: labels[found]! };
  }
  return Object.fromEntries(
    Object.entries(labels)
      .filter(([k]) => !VOLATILE_LABEL.test(k) && !RESERVED_LABEL.test(k))
      .map(([k, v]) => [bare(k), v]),
  );
}

const labelWords = (l: Record<string, string>) =>
  Object.entries(l)
    .filter(([k]) => k !== NAMESPACE_LABEL)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

/** A DNS-1123 name for a new policy, at most 63 characters. */
function policyName(parts: string[]): string {
  const name = parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  return name.slice(0, 63).replace(/-$/, "") || "allow-flow";
}

const ENTITY_OF: Record<string, Entity> = { host: "host", "remote-node": "remote-node" };

interface Peer {
  /** The rule's peer fields without the direction prefix: Endpoints, CIDR or Entities. */
  field: "Endpoints" | "CIDR" | "Entities";
  value: unknown[];
  words: string;
}

function peerOf(
  snapshot: ClusterSnapshot,
  address: string,
  ownerNamespace: string | null,
  source: string | undefined,
): Peer {
  const ep = snapshot.endpoints.find((e) => e.ipv4 === address || e.ipv6 === address);
  if (ep) {
    const own = peerSelectorLabels(ep.labels);
    // A namespaced policy's selectors see only its own namespace (scopeSelector); another
    // namespace is named by Cilium's namespace label, and so is every peer of a cluster-wide one.
    const matchLabels = ownerNamespace === ep.namespace ? own : { ...own, [NAMESPACE_LABEL]: ep.namespace };
    return {
      field: "Endpoints",
      value: [{ matchLabels }],
      words: `${ep.namespace} pods ${labelWords(own) || "(any labels)"}`,
    };
  }
  const entity = source ? ENTITY_OF[source] : undefined;
  if (entity) return { field: "Entities", value: [entity], words: `the ${entity} entity (${address})` };
  const cidr = `${address}/${address.includes(":") ? 128 : 32}`;
  return { field: "CIDR", value: [cidr], words: cidr };
}

function portsOf(flow: FlowRecord): { toPorts?: unknown[]; words: string } {
  const protocol = PROTOCOLS[flow.protocol.toLowerCase()];
  if (!protocol) return { words: `every port (protocol ${flow.protocol})` };
  const icmp = protocol === "ICMP" || protocol === "ICMPv6";
  // ICMP has no ports: the rule opens the protocol (port 0 means every port).
  const port = icmp ? "0" : String(flow.port ?? 0);
  return {
    toPorts: [{ ports: [{ port, protocol }] }],
    words: icmp ? protocol : `${protocol} ${port === "0" ? "every port" : port}`,
  };
}

function evaluate(
  snapshot: ClusterSnapshot,
  local: SnapshotEndpoint,
  flow: FlowRecord,
  direction: "ingress" | "egress",
  peerAddress: string,
) {
  const state = compileNodeState(snapshot, local.node);
  const compiled = state.endpoints.find((e) => e.id === local.id)!;
  const remote = lookupIpcache(state.ipcache, peerAddress);
  const protocol = PROTOCOL_NUMBERS[PROTOCOLS[flow.protocol.toLowerCase()] ?? "ANY"];
  const icmp = protocol === PROTOCOL_NUMBERS.ICMP || protocol === PROTOCOL_NUMBERS.ICMPv6;
  const check = evaluateEntries(
    compiled,
    direction,
    [remote?.identity ?? 2],
    protocol,
    icmp ? 0 : (flow.port ?? 0),
  );
  return { check, compiled, remote };
}

/** The whole path (egress of the source, ingress of the destination) when both ends are pods. */
function wholePath(snapshot: ClusterSnapshot, flow: FlowRecord) {
  const src = snapshot.endpoints.find((e) => e.ipv4 === flow.source || e.ipv6 === flow.source);
  const dst = snapshot.endpoints.find((e) => e.ipv4 === flow.destination || e.ipv6 === flow.destination);
  const protocol = PROTOCOLS[flow.protocol.toLowerCase()];
  if (!src || !dst || !protocol) return undefined;
  const r = whatIf(snapshot, {
    source: src.id,
    destination: { endpoint: dst.id },
    port: flow.port ?? 0,
    protocol,
  });
  const names = new Map(snapshot.endpoints.map((e) => [e.id, `${e.namespace}/${e.name}`]));
  const words = [src.id, dst.id].reduce((t, id) => t.replaceAll(id, names.get(id) ?? id), r.reason);
  return { verdict: r.verdict, reason: words };
}

function withPolicy(snapshot: ClusterSnapshot, policy: SnapshotPolicy): ClusterSnapshot {
  const others = snapshot.policies.filter((p) => p.id !== policy.id);
  return { ...snapshot, policies: [...others, policy] };
}

/** Why a flow can have no allow rule as its fix (read before loading a snapshot); undefined when it can. */
export function noFixReason(flow: FlowRecord): string | undefined {
  if (flow.verdict !== "dropped") return "the flow was not dropped";
  if (flow.reason === "policy_deny")
    return "a deny rule decided, and a deny rule wins over every allow rule: edit or remove the deny rule instead";
  if (flow.reason !== "policy_default")
    return "the datapath dropped it before any policy: no rule can allow it";
  if (!flow.direction || !flow.endpoint) return "the agent did not say at which pod or in which direction";
  return undefined;
}

/** Fixes for one default-deny drop, each checked against today's snapshot with the fix applied. */
export function suggestFixes(snapshot: ClusterSnapshot, flow: FlowRecord): FlowFixes {
  const none = noFixReason(flow);
  if (none) return { fixes: [], none };
  const direction = flow.direction!;
  const local = snapshot.endpoints.find((e) => `${e.namespace}/${e.name}` === flow.endpoint);
  if (!local) return { fixes: [], none: `the pod ${flow.endpoint} is gone from the inventory` };
  const peerAddress = direction === "ingress" ? flow.source : flow.destination;

  const today = evaluate(snapshot, local, flow, direction, peerAddress);
  if (today.check.verdict === "allow")
    return { fixes: [], none: `today's policies already allow it (${today.check.reason})` };

  const ports = portsOf(flow);
  const side = direction === "ingress" ? "from" : "to";
  const candidates: { kind: FlowFix["kind"]; base: SnapshotPolicy }[] = [];
  // The policies selecting the pod today that enforce this direction: the first still stored.
  const enforcers = today.compiled.enforcedBy?.[direction] ?? [];
  const enforcing = snapshot.policies.find((p) => enforcers.includes(policyKey(p)));
  if (enforcing) candidates.push({ kind: "existing", base: enforcing });
  const peerName =
    snapshot.endpoints.find((e) => e.ipv4 === peerAddress || e.ipv6 === peerAddress)?.name ?? peerAddress;
  candidates.push({
    kind: "new",
    base: {
      id: "(new)",
      name: policyName([
        "allow",
        direction === "ingress" ? peerName : local.name,
        "to",
        direction === "ingress" ? local.name : peerName,
        ...(flow.port && ports.toPorts && !ports.words.startsWith("ICMP") ? [String(flow.port)] : []),
      ]),
      namespace: local.namespace,
      enabled: true,
      version: 0,
      spec: { enabled: true, endpointSelector: { matchLabels: peerSelectorLabels(local.labels) } },
    },
  });

  const fixes = candidates.map(({ kind, base }): FlowFix => {
    const peer = peerOf(snapshot, peerAddress, base.namespace, today.remote?.source);
    const rule: Record<string, unknown> = {
      [`${side}${peer.field}`]: peer.value,
      ...(ports.toPorts ? { toPorts: ports.toPorts } : {}),
    };
    const rules = [...((base.spec[direction] as unknown[] | undefined) ?? []), rule];
    const spec = { ...base.spec, [direction]: rules } as NetworkPolicySpec;
    const after = withPolicy(snapshot, { ...base, spec });
    const { check } = evaluate(after, local, flow, direction, peerAddress);
    const path = wholePath(after, flow);
    const key = policyKey(base);
    return {
      kind,
      direction,
      policy: key,
      ...(kind === "existing" ? { policyId: base.id, version: base.version } : {}),
      namespace: base.namespace ?? "",
      name: base.name,
      rule,
      ruleIndex: rules.length - 1,
      spec,
      words: `allow ${direction} ${side} ${peer.words} on ${ports.words}`,
      verdict: check.verdict,
      reason: check.reason.replaceAll(local.id, flow.endpoint ?? local.id),
      ...(path ? { wholePath: path } : {}),
    };
  });
  return { fixes };
}
