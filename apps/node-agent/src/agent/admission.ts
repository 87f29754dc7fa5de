// CNI ADD with a control plane: a pod's first packet must meet its policy, so ADD waits until a
// desired state the subsystems have applied holds exactly this pod with a real identity. Any
// other applied state (one from before the pod was reported, one about other pods) is not enough.
import type { Logger } from "pino";
import { CniCode, CniError } from "../cni/spec.js";
import { type NodeDesiredState, ReservedIdentity } from "../sync/channel.js";
import type { AgentEndpoint } from "./endpoints.js";

type LocalEndpointState = NodeDesiredState["endpoints"][number];

export class EndpointAdmission {
  private applied?: NodeDesiredState;
  private readonly waiters = new Set<() => void>();
  /** Set by the sync loop: sends the endpoint inventory to the control plane now. */
  reporter?: () => Promise<void>;

  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Called by the agent after every desired state its subsystems applied. */
  onApplied(state: NodeDesiredState): void {
    this.applied = state;
    for (const w of [...this.waiters]) w();
  }

  /**
   * The applied state's entry for exactly this pod with a real identity (not reserved:init), or
   * undefined. Matched by namespace/name and address so a previous pod with the same name or a
   * reused address does not count.
   */
  entryFor(ep: AgentEndpoint): LocalEndpointState | undefined {
    const ns = ep.namespace ?? "default";
    return this.applied?.endpoints.find(
      (d) =>
        d.namespace === ns &&
        d.name === ep.podName &&
        d.identity !== 0 &&
        d.identity !== ReservedIdentity.init &&
        (d.ipv4 === undefined || ep.addresses.includes(d.ipv4)) &&
        (d.ipv6 === undefined || ep.addresses.includes(d.ipv6)),
    );
  }

  /**
   * Registers the endpoint with the API at once and resolves when an applied desired state holds
   * it (the datapath has its identity and policy then). Rejects with CNI code 11 after the timeout.
   */
  async admit(ep: AgentEndpoint): Promise<void> {
    // Without a pod name the endpoint is never reported, so the control plane cannot know it.
    if (!ep.podName || this.entryFor(ep)) return;
    const started = Date.now();
    let waiter: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = () => {
          if (this.entryFor(ep)) resolve();
        };
        this.waiters.add(waiter);
        timer = setTimeout(
          () =>
            reject(
              new CniError(
                CniCode.TryAgainLater,
                `the control plane did not assign an identity to pod ${ep.namespace ?? "default"}/${ep.podName} in time (${Math.round(this.timeoutMs / 100) / 10} s); the endpoint was rolled back, try again later`,
              ),
            ),
          this.timeoutMs,
        );
        // A report that fails or hangs is left to the deadline (the sync loop retries it).
        this.reporter?.().catch((err) =>
          this.log.warn({ err: (err as Error).message, endpoint: ep.id }, "endpoint registration failed"),
        );
      });
      this.log.info({ endpoint: ep.id, waitedMs: Date.now() - started }, "endpoint policy in the datapath");
    } finally {
      if (waiter) this.waiters.delete(waiter);
      clearTimeout(timer);
    }
  }

  /** How many ADDs are waiting. */
  get waiting(): number {
    return this.waiters.size;
  }
}
