// The DNS proxy's status as an agent reports it (component "dns", agent.reportStatus) and the
// console reads it (dns.overview): proxy health counters and the node's learned addresses, with
// absolute expiry times so a report stays true while it ages (the console counts the TTL down).
import { z } from "zod";
import { MAX_TEXT } from "../spec/limits";

/** Learned entries a status report carries per node (the agent's CLI shows all of them). */
export const MAX_REPORTED_LEARNED = 200;

export const dnsLearnedEntrySchema = z.strictObject({
  /** namespace/name of the endpoint that asked. */
  endpoint: z.string().max(300),
  address: z.string().max(MAX_TEXT.address),
  names: z.array(z.string().max(255)).max(32),
  expiresAt: z.string().max(40),
  heldByConnection: z.boolean(),
});
export type DnsLearnedEntry = z.infer<typeof dnsLearnedEntrySchema>;

export const dnsComponentDetailSchema = z.strictObject({
  proxyPort: z.number().int(),
  learned: z.number().int(),
  redirectedEndpoints: z.number().int(),
  stats: z
    .strictObject({
      queries: z.number().int().min(0),
      allowed: z.number().int().min(0),
      denied: z.number().int().min(0),
      malformed: z.number().int().min(0),
      dropped: z.number().int().min(0),
      upstreamFailures: z.number().int().min(0),
      datapathTimeouts: z.number().int().min(0),
    })
    .optional(),
  entries: z.array(dnsLearnedEntrySchema).max(MAX_REPORTED_LEARNED).optional(),
  /** The proxy process (it outlives the agent): up or down, its pid, since when it runs. */
  proxy: z
    .strictObject({
      state: z.enum(["up", "down"]),
      pid: z.number().int().positive().optional(),
      since: z.iso.datetime().optional(),
      adopted: z.boolean().optional(),
      startedBy: z.string().max(64).optional(),
      restarts: z.number().int().min(0),
      datapathFallbacks: z.number().int().min(0).optional(),
      eventsDropped: z.number().int().min(0).optional(),
    })
    .optional(),
});
export type DnsComponentDetail = z.infer<typeof dnsComponentDetailSchema>;

export const DNS_VERDICTS = ["allowed", "denied", "malformed", "error"] as const;

/** Which queries to show: the console's DNS page (dns.overview) and `meridian-agent dns log`. */
export const dnsQueryFilterSchema = z.object({
  verdict: z.enum(DNS_VERDICTS).optional(),
  /** Part of the name asked, in any case. */
  name: z.string().max(255).optional(),
  /** Part of the endpoint (namespace/pod) that asked. */
  endpoint: z.string().max(300).optional(),
});
export type DnsQueryFilter = z.infer<typeof dnsQueryFilterSchema>;

/** Every filter given must match; a query without the field a filter asks about does not. */
export function matchesDnsQuery(
  q: { verdict: string; name?: string | null; endpoint?: string | null },
  f: DnsQueryFilter,
): boolean {
  if (f.verdict && q.verdict !== f.verdict) return false;
  if (f.name && !(q.name ?? "").toLowerCase().includes(f.name.toLowerCase())) return false;
  if (f.endpoint && !(q.endpoint ?? "").includes(f.endpoint)) return false;
  return true;
}
