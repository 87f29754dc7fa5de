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
});
export type DnsComponentDetail = z.infer<typeof dnsComponentDetailSchema>;
