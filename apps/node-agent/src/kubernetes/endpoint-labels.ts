// Joins the pods the agent watches (inventory.ts) with the endpoints its CNI plugin made, and gives
// each endpoint its pod's labels in Cilium's spelling. Runs after every change of either side; an
// endpoint whose pod is no longer on this node falls back to the labels its CNI request carried.
import type { Logger } from "pino";
import type { AgentEndpoint } from "../agent/endpoints.js";
import type { KubernetesInventory } from "./inventory.js";

export interface RelabelTarget {
  list(): AgentEndpoint[];
  relabel(id: string, kubernetesLabels: Record<string, string> | undefined): Promise<boolean>;
  onChange(listener: () => void): void;
}

export class EndpointLabeller {
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly inventory: KubernetesInventory,
    private readonly endpoints: RelabelTarget,
    private readonly log: Logger,
  ) {
    inventory.onChange(() => this.schedule());
    endpoints.onChange(() => this.schedule());
  }

  /** Runs one join now, or once more after the one running (changes during it are not lost). */
  schedule(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.join().catch((err) =>
          this.log.warn({ err }, "labelling endpoints from Kubernetes failed"),
        );
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }

  private async join(): Promise<void> {
    // Before the first list nothing is known: a missing pod must not strip an endpoint's labels.
    if (!this.inventory.podsSynced()) return;
    for (const ep of this.endpoints.list()) {
      await this.endpoints.relabel(ep.id, this.inventory.labelsFor(ep));
    }
  }
}
