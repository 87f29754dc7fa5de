// Test support: a node's desired state as the compiler would send it, empty unless a test says
// otherwise. Typed as the whole NodeDesiredState, so a new section of the compiler's output shows
// up here (and in the subsystem registry's test) before it can be forgotten by the agent.
import type { NodeDesiredState } from "../src/compiler/types";

type Endpoint = NodeDesiredState["endpoints"][number];

export function desiredState(
  revision: number,
  overrides: Partial<Omit<NodeDesiredState, "revision">> = {},
): NodeDesiredState {
  const state: NodeDesiredState = {
    revision,
    node: { name: "n1", labels: {}, addresses: [], podCIDRs: [] },
    peers: [],
    endpoints: [],
    identities: [],
    ipcache: [],
    egressGateway: [],
    bgp: { instances: [] },
    srv6: { locators: [], vrfs: [], policies: [] },
    problems: [],
    contentHash: `h${revision}`,
  };
  return { ...state, ...overrides };
}

/** A local endpoint's entry, no policy unless given. */
export function desiredEndpoint(
  e: Pick<Endpoint, "namespace" | "name" | "identity"> & Partial<Endpoint>,
): Endpoint {
  return {
    id: `${e.namespace}/${e.name}`,
    labels: {},
    policyEnforced: { ingress: false, egress: false },
    policies: [],
    entries: [],
    fqdnSelectors: [],
    dnsRules: [],
    ...e,
  };
}
