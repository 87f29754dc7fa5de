// A reference reading of a Cilium policy document at L3/L4, written from Cilium's documentation
// (docs/cilium-semantics.md lists the rules and where Cilium states them), independently of
// Meridian's compiler: the corpus test compares the compiler's verdicts with these. It reads the
// original YAML, not Meridian's model, so a field lost on import shows up as a disagreement.
import { cidrContains } from "@meridian/model";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);

export interface RefEndpoint {
  namespace: string;
  labels: Record<string, string>;
  /** Named container ports, as a pod spec declares them. */
  ports?: { name: string; port: number; protocol: "TCP" | "UDP" | "SCTP" }[];
}

/**
 * Where named ports resolve (Cilium pkg/policy/types: an ingress rule against the local endpoint's
 * NamedPortMap, an egress rule against the ipcache's NamedPortMultiMap of every endpoint, which
 * gives a name the one number it has for the protocol, or none when endpoints disagree).
 */
export interface RefNames {
  local: RefEndpoint;
  all: RefEndpoint[];
}

function namedPortNumber(name: string, flow: RefFlow, declaredBy: RefEndpoint[]): number | undefined {
  const numbers = new Set(
    declaredBy.flatMap((e) => (e.ports ?? []).filter((p) => p.name === name && p.protocol === flow.protocol)),
  );
  const distinct = new Set([...numbers].map((p) => p.port));
  return distinct.size === 1 ? [...distinct][0] : undefined;
}
/** The other side of a flow: a pod of the grid, or an address outside the cluster. */
export type RefPeer = { endpoint: RefEndpoint } | { world: string };
export interface RefFlow {
  protocol: "TCP" | "UDP" | "ICMP";
  port: number;
}

const NAMESPACE = "io.kubernetes.pod.namespace";
/** Cilium's label sources: `k8s:app` and `any:app` select the Kubernetes label `app`. */
const bare = (key: string) => key.replace(/^(k8s|any):/, "");

/** Cilium adds the namespace and the cluster's name (here Cilium's default, "default") to every endpoint. */
function labelsOf(ep: RefEndpoint): Record<string, string> {
  return { ...ep.labels, [NAMESPACE]: ep.namespace, "io.cilium.k8s.policy.cluster": "default" };
}

export function selectorMatches(selector: Json, labels: Record<string, string>): boolean {
  if (!isObj(selector)) return false;
  for (const [key, value] of Object.entries(isObj(selector.matchLabels) ? selector.matchLabels : {})) {
    if (labels[bare(key)] !== String(value)) return false;
  }
  for (const req of list(selector.matchExpressions)) {
    if (!isObj(req)) return false;
    const key = bare(String(req.key));
    const present = Object.hasOwn(labels, key);
    const values = list(req.values).map(String);
    if (req.operator === "In" && !(present && values.includes(labels[key]!))) return false;
    if (req.operator === "NotIn" && present && values.includes(labels[key]!)) return false;
    if (req.operator === "Exists" && !present) return false;
    if (req.operator === "DoesNotExist" && present) return false;
  }
  return true;
}

function mentionsNamespace(selector: Json): boolean {
  if (!isObj(selector)) return false;
  const keys = [
    ...Object.keys(isObj(selector.matchLabels) ? selector.matchLabels : {}),
    ...list(selector.matchExpressions).map((r) => (isObj(r) ? String(r.key) : "")),
  ];
  return keys.some((k) => bare(k) === NAMESPACE);
}

/** A CiliumNetworkPolicy's endpoint selectors only see its own namespace unless they name one. */
function endpointSelected(selector: Json, ep: RefEndpoint, policyNamespace: string | null): boolean {
  if (policyNamespace !== null && !mentionsNamespace(selector) && ep.namespace !== policyNamespace)
    return false;
  return selectorMatches(selector, labelsOf(ep));
}

const ENTITY_PEERS: Record<string, (p: RefPeer) => boolean> = {
  all: () => true,
  world: (p) => "world" in p,
  cluster: (p) => "endpoint" in p,
};

function peerSelected(rule: Obj, dir: "from" | "to", peer: RefPeer, policyNamespace: string | null): boolean {
  for (const sel of list(rule[`${dir}Endpoints`])) {
    if ("endpoint" in peer && endpointSelected(sel, peer.endpoint, policyNamespace)) return true;
  }
  for (const entity of list(rule[`${dir}Entities`])) if (ENTITY_PEERS[String(entity)]?.(peer)) return true;
  // CIDR selectors match addresses outside the cluster (Cilium: not pods or nodes).
  if ("world" in peer) {
    for (const cidr of list(rule[`${dir}CIDR`])) if (cidrContains(String(cidr), peer.world)) return true;
    for (const set of list(rule[`${dir}CIDRSet`])) {
      if (!isObj(set) || typeof set.cidr !== "string" || !cidrContains(set.cidr, peer.world)) continue;
      if (!list(set.except).some((e) => cidrContains(String(e), peer.world))) return true;
    }
  }
  return false;
}

const L3_KEYS = (dir: "from" | "to") => [
  `${dir}Endpoints`,
  `${dir}Entities`,
  `${dir}CIDR`,
  `${dir}CIDRSet`,
  `${dir}FQDNs`,
  `${dir}Services`,
  `${dir}Nodes`,
  `${dir}Groups`,
  `${dir}Requires`,
];

function portsMatch(rule: Obj, flow: RefFlow, names?: RefEndpoint[]): boolean {
  const toPorts = list(rule.toPorts);
  const icmps = list(rule.icmps);
  // No L4 part: every protocol and port.
  if (toPorts.length === 0 && icmps.length === 0) return true;
  if (flow.protocol === "ICMP") {
    // Cilium matches ICMP only through icmps (the CRD refuses protocol ICMP in toPorts); the
    // grid's ICMP flow is an echo request (type 8).
    return icmps.some((r) =>
      list(isObj(r) ? r.fields : null).some(
        (f) => isObj(f) && (f.family ?? "IPv4") === "IPv4" && (f.type === 8 || f.type === "EchoRequest"),
      ),
    );
  }
  return toPorts.some((pr) => {
    if (!isObj(pr)) return false;
    const ports = list(pr.ports);
    if (ports.length === 0) return true;
    return ports.some((pp) => {
      if (!isObj(pp)) return false;
      const protocol = String(pp.protocol ?? "ANY");
      if (protocol !== "ANY" && protocol !== flow.protocol) return false;
      if (typeof pp.port === "string" && /[a-z]/i.test(pp.port)) {
        const named = namedPortNumber(pp.port, flow, names ?? []);
        return named !== undefined && flow.port === named;
      }
      const port = Number(pp.port ?? 0);
      if (port === 0) return true;
      const end = typeof pp.endPort === "number" ? pp.endPort : port;
      return flow.port >= port && flow.port <= end;
    });
  });
}

function ruleMatches(
  rule: Json,
  dir: "from" | "to",
  peer: RefPeer,
  flow: RefFlow,
  ns: string | null,
  names?: RefEndpoint[],
): boolean {
  if (!isObj(rule)) return false;
  const hasL3 = L3_KEYS(dir).some((k) => rule[k] !== undefined);
  const hasL4 = rule.toPorts !== undefined || rule.icmps !== undefined;
  // An empty rule selects nothing; a rule with only ports selects every peer.
  if (!hasL3 && !hasL4) return false;
  if (hasL3 && !peerSelected(rule, dir, peer, ns)) return false;
  return portsMatch(rule, flow, names);
}

export type RefVerdict = "allow" | "deny";

/**
 * The verdict of one direction of a flow at endpoint `ep`, given every policy spec that selects it
 * (Cilium: deny rules win; otherwise allowed if any allow rule matches; otherwise denied when any
 * selecting policy puts the direction into default-deny, else allowed).
 */
export function directionVerdict(
  specs: { spec: Obj; namespace: string | null }[],
  direction: "ingress" | "egress",
  peer: RefPeer,
  flow: RefFlow,
  namesFrom?: RefNames,
): RefVerdict {
  const dir = direction === "ingress" ? "from" : "to";
  const names = namesFrom && (direction === "ingress" ? [namesFrom.local] : namesFrom.all);
  for (const { spec, namespace } of specs) {
    if (list(spec[`${direction}Deny`]).some((r) => ruleMatches(r, dir, peer, flow, namespace, names)))
      return "deny";
  }
  for (const { spec, namespace } of specs) {
    if (list(spec[direction]).some((r) => ruleMatches(r, dir, peer, flow, namespace, names))) return "allow";
  }
  const enforced = specs.some(({ spec }) => {
    const explicit = isObj(spec.enableDefaultDeny) ? spec.enableDefaultDeny[direction] : undefined;
    if (typeof explicit === "boolean") return explicit;
    return list(spec[direction]).length > 0 || list(spec[`${direction}Deny`]).length > 0;
  });
  return enforced ? "deny" : "allow";
}

/** The specs of a policy document (`spec` and `specs`) that select the endpoint. */
export function selectingSpecs(doc: Obj, ep: RefEndpoint): { spec: Obj; namespace: string | null }[] {
  const namespace =
    doc.kind === "CiliumClusterwideNetworkPolicy"
      ? null
      : String((isObj(doc.metadata) && doc.metadata.namespace) || "default");
  if (namespace !== null && ep.namespace !== namespace) return [];
  const specs = [...(isObj(doc.spec) ? [doc.spec] : []), ...list(doc.specs).filter(isObj)];
  return specs
    .filter((s) => s.endpointSelector !== undefined && endpointSelected(s.endpointSelector, ep, namespace))
    .map((spec) => ({ spec, namespace }));
}
