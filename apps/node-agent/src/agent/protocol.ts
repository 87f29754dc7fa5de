// The agent's local protocol: HTTP/1.1 with JSON bodies over a unix socket. Plain HTTP so
// that `curl --unix-socket` works for debugging, and the socket's file mode (0660, root)
// is the access control: nothing listens on a network address for these calls.
import { z } from "zod";

export const DEFAULT_AGENT_SOCKET = "/run/meridian/agent.sock";

export const cniRequestSchema = z.object({
  command: z.enum(["ADD", "DEL", "CHECK"]),
  cniVersion: z.string(),
  containerId: z.string().min(1),
  netns: z.string().optional(),
  ifname: z.string().min(1),
  args: z.record(z.string(), z.string()).default({}),
  labels: z.record(z.string(), z.string()).default({}),
  mtu: z.number().int().optional(),
  prevResult: z.unknown().optional(),
});
export type CniRequest = z.infer<typeof cniRequestSchema>;

/** CNI GC: the plugin passes the runtime's valid attachments; the agent deletes every other endpoint. */
export const cniGcRequestSchema = z.object({
  validAttachments: z.array(z.object({ containerId: z.string().min(1), ifname: z.string().min(1) })),
});

export interface EndpointView {
  id: string;
  containerId: string;
  ifname: string;
  netns: string;
  hostIfname: string;
  mac: string;
  addresses: string[];
  namespace?: string;
  podName?: string;
  labels: Record<string, string>;
  createdAt: string;
  /** Whether the datapath has applied this endpoint (ADD waits for it). */
  datapath: "applied" | "failed";
}

/** GET /v1/status: the core's fields and each subsystem's (AgentFeature.statusView). */
export interface AgentStatusView {
  nodeName: string;
  podCIDRs: string[];
  /** From the policy subsystem. */
  datapath: { name: string; enforcing: boolean };
  controlPlane: {
    mode: "standalone" | "connected" | "disconnected";
    api?: string;
    lastRevision?: number;
    /** The last desired state refused before any subsystem saw it; cleared by the next one applied. */
    rejected?: { revision: number; source: "control plane" | "disk"; reason: string; at: string };
  };
  endpoints: number;
  /** From the routing subsystem. */
  peerRoutes: { dst: string; via: string }[];
  ipam: { pool: string; used: number; usable: string }[];
  uptimeSeconds: number;
  /** The first subsystem whose last apply failed, in its words (`revision 7: …`, `peer routes: …`). */
  lastError?: string;
}
