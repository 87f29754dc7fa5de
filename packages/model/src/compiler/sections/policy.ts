// The `policy` section (`endpoints`, `identities`, `ipcache`): the node's endpoints with their
// compiled L3/L4 and DNS policy, the identities those name, and the prefix → identity entries the
// datapath needs to tell peers apart. The rules themselves are compiled in ../policy.ts, the
// ipcache in ../ipcache.ts; this is where they are put together for one node.
import { z } from "zod";
import { cidrSchema, ipv4AddressSchema, ipv6AddressSchema, parseCidr } from "../../spec";
import { byText } from "../hash";
import { RESERVED_IDENTITY_NAMES } from "../identity";
import { buildIpcache } from "../ipcache";
import {
  allocateRuleIdentities,
  compileEndpointPolicy,
  namedPortProblems,
  type RuleRef,
  rulePrefixes,
  rulesOf,
  selectedEndpointIdentities,
  selectingPolicies,
} from "../policy";
import { addressesShadowedBy, type SnapshotIndex } from "../snapshotIndex";
import type { IdentityState, LocalEndpointState } from "../types";
import { defineSection } from "./section";

const labels = z.record(z.string(), z.string());
const direction = z.enum(["ingress", "egress"]);
// Bounded as the datapath's map fields are, so an agent refuses what it could not write.
const identity = z.number().int().min(0).max(0xffffffff);
const protocol = z.number().int().min(0).max(255);
const port = z.number().int().min(0).max(65535);

export const policyEntrySchema = z.strictObject({
  direction,
  /** 0 = any identity. */
  remoteIdentity: identity,
  /** IANA protocol number; 0 = any protocol. */
  protocol,
  /** Inclusive; 0..65535 means every port. */
  portLow: port,
  portHigh: port,
  verdict: z.enum(["allow", "deny"]),
  /** `<policy>/<ingress|egress|ingressDeny|egressDeny>[i]`. */
  ruleId: z.string(),
});

const namePattern = { matchName: z.string().optional(), matchPattern: z.string().optional() };

export const localEndpointSchema = z.strictObject({
  id: z.string(),
  namespace: z.string(),
  name: z.string(),
  labels,
  ipv4: ipv4AddressSchema.optional(),
  ipv6: ipv6AddressSchema.optional(),
  identity,
  /** Default-deny applies in a direction once any enabled policy selecting the endpoint has rules for it. */
  policyEnforced: z.strictObject({ ingress: z.boolean(), egress: z.boolean() }),
  /**
   * Per direction, the selecting policies that put the endpoint under default deny there, so a
   * default-deny drop can name what to edit. Optional: states compiled before it lack it.
   */
  enforcedBy: z.strictObject({ ingress: z.array(z.string()), egress: z.array(z.string()) }).optional(),
  /** Names of the enabled policies that select this endpoint. */
  policies: z.array(z.string()),
  entries: z.array(policyEntrySchema),
  fqdnSelectors: z.array(
    z.strictObject({
      /** Identity that IPs learned for this selector get in the ipcache. */
      identity,
      ...namePattern,
      ruleIds: z.array(z.string()),
    }),
  ),
  dnsRules: z.array(
    z.strictObject({
      ruleId: z.string(),
      /** Where the DNS proxy intercepts: port and protocol number (0 = any). */
      ports: z.array(z.strictObject({ port, protocol })),
      /** Names the proxy lets through; anything else is refused. */
      allowed: z.array(z.strictObject(namePattern)),
    }),
  ),
});

export const identityStateSchema = z.strictObject({
  id: identity,
  /** Labels for endpoint identities, `cidr:<prefix>` / `fqdn:<selector>` / `reserved:<name>` for the rest. */
  labels,
});

export const ipcacheEntrySchema = z.strictObject({
  prefix: cidrSchema,
  identity,
  source: z.enum(["endpoint", "host", "remote-node", "cidr", "pod-cidr", "world"]),
});

export const policySection = defineSection({
  name: "policy",
  keys: ["endpoints", "identities", "ipcache"],
  schema: z.strictObject({
    endpoints: z.array(localEndpointSchema),
    identities: z.array(identityStateSchema),
    ipcache: z.array(ipcacheEntrySchema),
  }),
  compile({ snapshot, node, index, problem }) {
    const nodeName = node.name;
    const localEndpoints = [...(index.endpointsByNode.get(nodeName) ?? [])].sort((a, b) =>
      byText(a.id, b.id),
    );
    // Only the rules of policies that select a local pod shape this node's identities and ipcache.
    const localRules = [
      ...new Set(localEndpoints.flatMap((ep) => selectingPolicies(snapshot.policies, ep, index))),
    ].flatMap(rulesOf);
    const local = allocateRuleIdentities(localRules);
    const endpointAddresses = neededEndpointAddresses(index, nodeName, localRules);
    const universe = {
      index,
      local,
      ipcacheIdentities: [...new Set(endpointAddresses.map((a) => a.endpoint.identity))].sort(
        (a, b) => a - b,
      ),
    };

    for (const p of namedPortProblems(localRules, localEndpoints, universe)) problem(p);

    const endpoints: LocalEndpointState[] = localEndpoints.map((ep) => ({
      id: ep.id,
      namespace: ep.namespace,
      name: ep.name,
      labels: { ...ep.labels },
      ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
      ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
      identity: ep.identity,
      ...compileEndpointPolicy(ep, snapshot.policies, universe),
    }));

    const ipcache = buildIpcache(nodeName, index, endpointAddresses, local.cidr);

    const identityIds = new Set<number>([
      ...endpoints.map((ep) => ep.identity),
      ...endpoints.flatMap((ep) => ep.entries.map((e) => e.remoteIdentity)),
      ...ipcache.map((e) => e.identity),
    ]);
    const identities: IdentityState[] = [...identityIds]
      .filter((id) => id !== 0)
      .sort((a, b) => a - b)
      .map((id) => ({ id, labels: identityLabelsFor(id, index.identityLabels, local) }));
    return { endpoints, identities, ipcache };
  },
});

/**
 * Pod addresses this node must map to their own identity: its own pods, pods its rules name by
 * selector, and pods inside a rule CIDR narrower than their PodCIDR (there the CIDR entry would
 * otherwise win the longest-prefix match and a CIDR rule would select a pod, which it must not).
 */
function neededEndpointAddresses(index: SnapshotIndex, nodeName: string, rules: RuleRef[]) {
  const needed = new Set(index.addressesByNode.get(nodeName) ?? []);
  for (const id of selectedEndpointIdentities(rules, index)) {
    for (const address of index.addressesByIdentity.get(id) ?? []) needed.add(address);
  }
  for (const prefix of rulePrefixes(rules)) {
    const parsed = parseCidr(prefix);
    if (parsed) for (const address of addressesShadowedBy(index, parsed)) needed.add(address);
  }
  return [...needed];
}

function identityLabelsFor(
  id: number,
  endpointIdentities: Map<number, Record<string, string>>,
  local: { cidr: Map<string, number>; fqdn: Map<string, number> },
): Record<string, string> {
  const reserved = RESERVED_IDENTITY_NAMES[id];
  if (reserved) return { [reserved]: "" };
  for (const [prefix, cidrId] of local.cidr) if (cidrId === id) return { [`cidr:${prefix}`]: "" };
  for (const [key, fqdnId] of local.fqdn) if (fqdnId === id) return { [`fqdn:${key}`]: "" };
  return { ...(endpointIdentities.get(id) ?? {}) };
}
