// What the agent learns from the Kubernetes API server: the pods on its own node, its own Node and
// the Namespaces. It is inventory, not intent: it never becomes a desired-state revision; it labels
// the endpoints the CNI plugin made (Cilium's labels, ./labels.ts) and the sync loop reports them.
//
// Cost per agent must not grow with the cluster: pods are watched with `spec.nodeName=<node>` and the
// Node with `metadata.name=<node>`, so the API server filters and this agent receives its node's
// events only. Watches (client-node's ListWatch) resume from the last resourceVersion they saw
// (bookmarks keep it fresh); a 410 Gone makes them list again, and the list replaces the cache
// (deletes only what is really gone, updates only what changed). While the API server is away the
// caches are kept as they are, so endpoints keep their labels; the watch is retried with backoff.
import {
  CoreV1Api,
  KubeConfig,
  ListWatch,
  type V1Namespace,
  type V1Node,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { podEndpointLabels } from "./labels.js";

export type WatchedKind = "pods" | "nodes" | "namespaces";

export interface KubernetesInventoryOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  /** `io.cilium.k8s.policy.cluster` of every endpoint. */
  clusterName: string;
  log: Logger;
  /** First and longest wait before a failed list or watch is tried again. */
  backoff?: { initialMs: number; maxMs: number };
}

/** What an endpoint is joined on: the pod the CNI request named, or a container of it. */
export interface EndpointRef {
  namespace?: string;
  podName?: string;
  containerId: string;
}

export interface NodeInventory {
  name: string;
  labels: Record<string, string>;
  podCIDRs: string[];
  addresses: { type: string; address: string }[];
}

/** Loads a kubeconfig file, or the in-cluster service account when there is none. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromCluster();
  return kc;
}

/** A watch that asks for bookmarks and counts every event this agent receives. */
class CountingWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly onEvent: (type: string) => void,
  ) {
    super(kc);
  }

  override watch(
    path: string,
    query: Record<string, unknown>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      { ...query, allowWatchBookmarks: true },
      (phase, obj, raw) => {
        this.onEvent(phase);
        callback(phase, obj, raw);
      },
      done,
    );
  }
}

export class KubernetesInventory {
  private readonly api: CoreV1Api;
  private readonly pods: ListWatch<V1Pod>;
  private readonly nodes: ListWatch<V1Node>;
  private readonly namespaces: ListWatch<V1Namespace>;
  private readonly listeners: (() => void)[] = [];
  private readonly retries = new Map<WatchedKind, NodeJS.Timeout>();
  private readonly delay: Record<WatchedKind, number>;
  private readonly synced = new Set<WatchedKind>();
  private stopped = false;
  /** Watch events received (ADDED / MODIFIED / DELETED / ERROR), per kind. */
  readonly eventsReceived: Record<WatchedKind, number> = { pods: 0, nodes: 0, namespaces: 0 };
  /** BOOKMARKs received: they only move the resourceVersion a watch resumes from. */
  readonly bookmarksReceived: Record<WatchedKind, number> = { pods: 0, nodes: 0, namespaces: 0 };
  /** Lists made (the first, and one after every 410), per kind. */
  readonly lists: Record<WatchedKind, number> = { pods: 0, nodes: 0, namespaces: 0 };
  /** The last error of each watch, while it is failing. */
  readonly errors: Partial<Record<WatchedKind, string>> = {};

  constructor(private readonly opts: KubernetesInventoryOptions) {
    const kc = opts.kubeConfig;
    this.api = kc.makeApiClient(CoreV1Api);
    const backoff = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.delay = { pods: backoff.initialMs, nodes: backoff.initialMs, namespaces: backoff.initialMs };
    const watch = (kind: WatchedKind) =>
      new CountingWatch(kc, (phase) => {
        if (phase === "BOOKMARK") this.bookmarksReceived[kind]++;
        else this.eventsReceived[kind]++;
        // A watch that delivers is healthy again: the next failure starts the backoff afresh.
        this.delay[kind] = backoff.initialMs;
        delete this.errors[kind];
      });
    const node = `metadata.name=${opts.nodeName}`;
    const onNode = `spec.nodeName=${opts.nodeName}`;
    this.pods = new ListWatch<V1Pod>(
      "/api/v1/pods",
      watch("pods"),
      () => this.counted("pods", () => this.api.listPodForAllNamespaces({ fieldSelector: onNode })),
      false,
      undefined,
      onNode,
    );
    this.nodes = new ListWatch<V1Node>(
      "/api/v1/nodes",
      watch("nodes"),
      () => this.counted("nodes", () => this.api.listNode({ fieldSelector: node })),
      false,
      undefined,
      node,
    );
    this.namespaces = new ListWatch<V1Namespace>(
      "/api/v1/namespaces",
      watch("namespaces"),
      () => this.counted("namespaces", () => this.api.listNamespace()),
      false,
    );
    for (const [kind, lw] of this.watches()) {
      // One handler per verb: ListWatch takes them apart, and each caller's type is its own.
      const informer = lw as ListWatch<V1Pod>;
      informer.on("change", () => this.changed());
      informer.on("error", (err) => this.failed(kind, lw, err));
    }
  }

  private watches(): [WatchedKind, ListWatch<V1Pod> | ListWatch<V1Node> | ListWatch<V1Namespace>][] {
    return [
      ["namespaces", this.namespaces],
      ["nodes", this.nodes],
      ["pods", this.pods],
    ];
  }

  private async counted<T>(kind: WatchedKind, list: () => Promise<T>): Promise<T> {
    this.lists[kind]++;
    const result = await list();
    this.synced.add(kind);
    return result;
  }

  /** Starts the watches; resolves once each has been tried (failures retry in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.watches().map(([, lw]) => lw.start()));
    this.changed();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    await Promise.all(this.watches().map(([, lw]) => lw.stop()));
  }

  /** Called after anything the agent holds from Kubernetes changed. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** True once pods have been listed: before that, no pod's absence means anything. */
  podsSynced(): boolean {
    return this.synced.has("pods");
  }

  /** The pods on this node the agent holds now. */
  podList(): readonly V1Pod[] {
    return this.pods.list();
  }

  node(): NodeInventory | undefined {
    const n = this.nodes.get(this.opts.nodeName);
    if (!n) return undefined;
    return {
      name: this.opts.nodeName,
      labels: { ...n.metadata?.labels },
      podCIDRs: n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []),
      addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    };
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    const ns = this.namespaces.get(name);
    return ns ? { ...ns.metadata?.labels } : undefined;
  }

  /** The pod an endpoint belongs to: by namespace/name, else by one of its containers' ids. */
  podFor(ep: EndpointRef): V1Pod | undefined {
    if (ep.podName) {
      const p = this.pods.get(ep.podName, ep.namespace ?? "default");
      if (p) return p;
    }
    return this.pods
      .list()
      .find((p) =>
        (p.status?.containerStatuses ?? []).some(
          (c) => c.containerID?.replace(/^\w+:\/\//, "") === ep.containerId,
        ),
      );
  }

  /** The Kubernetes labels of an endpoint, or undefined when this node holds no pod for it. */
  labelsFor(ep: EndpointRef): Record<string, string> | undefined {
    const pod = this.podFor(ep);
    if (!pod) return undefined;
    return podEndpointLabels(
      pod,
      this.namespaces.get(pod.metadata?.namespace ?? "default"),
      this.opts.clusterName,
    );
  }

  statusView(): Record<string, unknown> {
    return {
      node: this.opts.nodeName,
      pods: this.pods.list().length,
      namespaces: this.namespaces.list().length,
      eventsReceived: this.eventsReceived,
      lists: this.lists,
      ...(Object.keys(this.errors).length ? { errors: this.errors } : {}),
    };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /**
   * A list or watch failed (the API server is away, or refused): what the caches hold stays, and
   * the watch is started again after a backoff — from its last resourceVersion, so no re-list.
   */
  private failed(kind: WatchedKind, lw: { start(): Promise<void> }, err: unknown): void {
    if (this.stopped) return;
    const message = (err as Error)?.message ?? String(err);
    this.errors[kind] = message;
    const wait = this.delay[kind];
    this.delay[kind] = Math.min(wait * 2, this.opts.backoff?.maxMs ?? 30_000);
    this.opts.log.warn(
      { kind, err: message, retryInMs: wait },
      "kubernetes watch failed; keeping what it holds",
    );
    clearTimeout(this.retries.get(kind));
    const t = setTimeout(() => {
      this.retries.delete(kind);
      if (!this.stopped) void lw.start();
    }, wait);
    t.unref();
    this.retries.set(kind, t);
  }
}
