import { z } from "zod";
import {
  cidrSchema,
  endpointPortsSchema,
  interfaceAddressSchema,
  ipAddressSchema,
  labelsSchema,
  objectNameSchema,
} from "../spec";
import { INT32_MAX, MAX_COUNTER, MAX_TEXT } from "../spec/limits";
import { reportedComponentSchema } from "./status-schemas";

export const joinInput = z.object({
  token: z.string().min(1, "the join token is required").max(200),
  nodeName: objectNameSchema,
  /** Refused: labels select policy, BGP, egress and SRv6 intent, so only an admin sets them. */
  labels: z
    .unknown()
    .optional()
    .refine((v) => v === undefined, {
      error: "labels are set by an admin (nodes.create / nodes.update), not by the agent's join",
    }),
  addresses: z.array(interfaceAddressSchema).max(16).optional(),
  podCIDRs: z.array(cidrSchema).max(2).optional(),
  agentVersion: z.string().max(100).optional(),
});

export const joinOutput = z.object({
  nodeId: z.string(),
  nodeName: z.string(),
  /** The node credential; shown once, store it (mode 0600). */
  credential: z.string(),
  revision: z.number().int(),
});

export const desiredStateInput = z
  .object({
    /** The revision the agent last applied (from disk after a restart). */
    lastRevision: z.number().int().min(0).max(INT32_MAX).optional(),
    /** The content hash of that state, so an unchanged state is not resent. */
    lastContentHash: z.string().max(128).optional(),
    /** Set by httpSubscriptionLink on reconnect: the id of the last event received (a revision). */
    lastEventId: z.string().max(32).optional(),
    /** Optional check: the node the agent believes it is. */
    nodeName: z.string().max(MAX_TEXT.name).optional(),
  })
  .optional();

export const reportStatusInput = z.object({
  nodeName: z.string().max(MAX_TEXT.name).optional(),
  appliedRevision: z.number().int().min(0).max(INT32_MAX).optional(),
  contentHash: z.string().max(128).optional(),
  agentVersion: z.string().max(100).optional(),
  /** Each component's status; a known component's detail must fit its schema (status-schemas.ts). */
  components: z.array(reportedComponentSchema).max(64).default([]),
  /** Free-form summary (counters, BGP sessions…) kept as the node's last status. */
  summary: z.record(z.string(), z.unknown()).optional(),
});

export const heartbeatInput = z.object({
  nodeName: z.string().max(MAX_TEXT.name).optional(),
  appliedRevision: z.number().int().min(0).max(INT32_MAX).optional(),
  agentVersion: z.string().max(100).optional(),
});

export const dnsEventSchema = z.object({
  at: z.coerce.date(),
  endpoint: z.string().max(300).optional(),
  sourceIP: ipAddressSchema.optional(),
  qname: z.string().max(255),
  qtype: z.string().max(16).default("A"),
  rcode: z.string().max(16).default("NOERROR"),
  answers: z.array(ipAddressSchema).max(64).default([]),
  ttlSeconds: z.number().int().min(0).max(INT32_MAX).optional(),
  /** "malformed" and "error" (upstream failed, datapath write late: SERVFAIL) come from the proxy too. */
  verdict: z.enum(["allowed", "denied", "malformed", "error"]),
  rule: z.string().max(300).optional(),
  /** Why it was denied or failed. */
  reason: z.string().max(300).optional(),
  /** The server the pod asked (address:port). */
  server: z
    .string()
    .max(MAX_TEXT.address + 6)
    .optional(),
  protocol: z.enum(["udp", "tcp"]).optional(),
  latencyMs: z.number().min(0).max(INT32_MAX).optional(),
  /** Answer received → its addresses in the datapath. */
  datapathMs: z.number().min(0).max(INT32_MAX).optional(),
});

export const flowSummarySchema = z.object({
  at: z.coerce.date(),
  source: z.string().max(300),
  destination: z.string().max(300),
  protocol: z.string().max(16),
  port: z.number().int().min(0).max(65535).optional(),
  verdict: z.enum(["forwarded", "dropped", "redirected"]),
  reason: z.string().max(200).optional(),
  direction: z.enum(["ingress", "egress"]).optional(),
  /** The local endpoint's pod, `namespace/name`. */
  endpoint: z.string().max(300).optional(),
  /** The deciding rule (`ns/policy/ingress[0]`), or `default-deny` with the enforcing `policies`. */
  ruleId: z.string().max(300).optional(),
  policies: z.array(z.string().max(300)).max(64).optional(),
  packets: z.number().int().min(0).max(MAX_COUNTER),
  bytes: z.number().int().min(0).max(MAX_COUNTER),
  /** Drop events the datapath's rate limit held back, on top of `packets`. */
  suppressed: z.number().int().min(0).max(MAX_COUNTER).optional(),
});

/** One flow summary as the agent sends it and the API stores it (the API's FlowRecord adds node, id and pods). */
export type FlowSummary = z.infer<typeof flowSummarySchema>;

export const reportEndpointsInput = z.object({
  /** The complete set of endpoints on this node; ones not listed are removed. */
  endpoints: z
    .array(
      z.object({
        namespace: objectNameSchema,
        name: objectNameSchema,
        labels: labelsSchema.default({}),
        ipv4: ipAddressSchema.optional(),
        ipv6: ipAddressSchema.optional(),
        /** Named container ports (from the pod spec), which policies' named ports resolve to. */
        ports: endpointPortsSchema,
      }),
    )
    .max(5000),
});

/** A bounded BGP looking-glass snapshot per peer; defined beside the console's read of it. */
export { reportBgpRoutesInput } from "../bgp/looking-glass-schemas";
