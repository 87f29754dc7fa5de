// A STAND-IN for the Kubernetes API server, for tests. No kube-apiserver (nor etcd) can run on
// these machines, so the agent's watchers and Debian's real `kubectl` are tested against this
// in-process HTTP server instead. It speaks the real wire protocol for core/v1 Pods, Nodes and
// Namespaces — and only that:
//   - discovery: /version, /api, /api/v1, /apis (no groups)
//   - list: resourceVersion in the list's metadata, fieldSelector, labelSelector, limit/continue
//   - watch (?watch=1): chunked JSON lines of ADDED / MODIFIED / DELETED / BOOKMARK, resumed from
//     `resourceVersion`; a version older than the kept history gets an ERROR event with a 410
//     Status (what a real server's watch cache sends); objects entering / leaving a selector arrive
//     as ADDED / DELETED, as the real watch cache sends them; `allowWatchBookmarks`, `timeoutSeconds`
//   - get / create / update / strategic-merge and merge patch / delete, which `kubectl apply` uses
//   - `as=Table` answers for kubectl's human-readable `get` (and `get --watch`)
// Every change bumps one cluster-wide resourceVersion, like etcd's revision. Not implemented:
// server-side apply, admission, defaulting beyond metadata, authentication (tests run on loopback).
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  type KubeObjectLike,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from "./selectors.js";

export type KubeResource = "pods" | "nodes" | "namespaces";
type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface KubeObject extends KubeObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

const RESOURCES: Record<KubeResource, { kind: string; namespaced: boolean; shortNames: string[] }> = {
  pods: { kind: "Pod", namespaced: true, shortNames: ["po"] },
  nodes: { kind: "Node", namespaced: false, shortNames: ["no"] },
  namespaces: { kind: "Namespace", namespaced: false, shortNames: ["ns"] },
};

interface HistoryEntry {
  rv: number;
  resource: KubeResource;
  type: EventType;
  object: KubeObject;
  /** The object before the change (to tell a selector's enter / leave apart from a change). */
  previous?: KubeObject;
}

/** One request the server answered, so that tests can count what a client asked for. */
export interface KubeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
}

interface OpenWatch {
  resource: KubeResource;
  namespace?: string;
  labels: ReturnType<typeof parseLabelSelector>;
  fields: ReturnType<typeof parseFieldSelector>;
  res: http.ServerResponse;
  table: boolean;
  /** Events (ADDED / MODIFIED / DELETED) written to this watch. */
  sent: number;
}

export interface KubeApiServerOptions {
  /** How many changes are kept for watches to resume from (the real server keeps ~5 minutes). */
  historyLimit?: number;
  /** How often an open watch that allowed them gets a BOOKMARK (the real server: about a minute). */
  bookmarkIntervalMs?: number;
}

export class KubeApiServer {
  private readonly store: Record<KubeResource, Map<string, KubeObject>> = {
    pods: new Map(),
    nodes: new Map(),
    namespaces: new Map(),
  };
  private rv = 1;
  private history: HistoryEntry[] = [];
  /** Watches may resume from this version or later; older ones get 410 Gone. */
  private oldestResumable = 1;
  private readonly watches = new Set<OpenWatch>();
  private server?: http.Server;
  private readonly historyLimit: number;
  private readonly bookmarkIntervalMs: number;
  /** Every request answered, in order. */
  readonly requests: KubeRequestRecord[] = [];
  /** Watch events (not bookmarks) written, per resource, over every watch connection. */
  readonly eventsSent: Record<KubeResource, number> = { pods: 0, nodes: 0, namespaces: 0 };
  url = "";

  constructor(opts: KubeApiServerOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 10_000;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
  }

  /** Listens on loopback; `port` 0 picks one. Started again after stop(), it keeps its objects. */
  async start(port = 0): Promise<string> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.status(res, 500, "InternalError", (err as Error).message);
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** The port it listens on (to start it again on the same one). */
  port(): number {
    return Number(new URL(this.url).port);
  }

  /** Stops listening and cuts every open connection (an API server that went away). */
  async stop(): Promise<void> {
    this.dropWatches();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  /** A kubeconfig for this server (plain HTTP on loopback, no credentials). */
  async writeKubeconfig(file: string, namespace = "default"): Promise<string> {
    const config = {
      apiVersion: "v1",
      kind: "Config",
      // client-node refuses plain HTTP unless TLS verification is marked off (there is no TLS here).
      clusters: [{ name: "stand-in", cluster: { server: this.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "test", user: {} }],
      contexts: [{ name: "stand-in", context: { cluster: "stand-in", user: "test", namespace } }],
      "current-context": "stand-in",
    };
    await writeFile(file, JSON.stringify(config, null, 1));
    return file;
  }

  // --- what tests do to the cluster -------------------------------------------------------

  /** Creates or replaces an object (ADDED or MODIFIED), as a controller or kubelet would. */
  upsert(resource: KubeResource, obj: KubeObject): KubeObject {
    const key = keyOf(resource, obj);
    const previous = this.store[resource].get(key);
    const stored = this.stamp(resource, structuredClone(obj), previous);
    this.store[resource].set(key, stored);
    this.record(resource, previous ? "MODIFIED" : "ADDED", stored, previous);
    return stored;
  }

  remove(resource: KubeResource, name: string, namespace?: string): KubeObject | undefined {
    const key = namespace ? `${namespace}/${name}` : name;
    const previous = this.store[resource].get(key);
    if (!previous) return undefined;
    this.store[resource].delete(key);
    // A deleted object's last version is the deletion's revision (what the DELETED event carries).
    const gone = structuredClone(previous);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record(resource, "DELETED", gone, previous);
    return gone;
  }

  get(resource: KubeResource, name: string, namespace?: string): KubeObject | undefined {
    return this.store[resource].get(namespace ? `${namespace}/${name}` : name);
  }

  /** The current cluster-wide resourceVersion. */
  resourceVersion(): string {
    return String(this.rv);
  }

  /** Forgets the change history (etcd compaction): watches resuming from before now get 410. */
  compact(): void {
    this.history = [];
    this.oldestResumable = this.rv;
  }

  /** Cuts every open watch connection, as a restarting API server or a load balancer does. */
  dropWatches(): void {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  openWatches(resource?: KubeResource): number {
    return [...this.watches].filter((w) => !resource || w.resource === resource).length;
  }

  // --- the HTTP protocol ------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === "1" || query.watch === "true";
    this.requests.push({ method: req.method ?? "GET", path: url.pathname, query, watch });
    const p = url.pathname.replace(/\/+$/, "");
    if (p === "/version") return this.json(res, 200, VERSION);
    if (p === "/api") return this.json(res, 200, this.apiVersions(req));
    if (p === "/apis") return this.json(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
    if (p === "/api/v1") return this.json(res, 200, API_RESOURCES);
    // /api/v1/[namespaces/{ns}/]{resource}[/{name}]
    const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/(pods))?(?:(pods|nodes|namespaces))?(?:\/([^/]+))?$/.exec(
      p,
    );
    if (!m) return this.status(res, 404, "NotFound", "the server could not find the requested resource");
    const namespace = m[2] ? decodeURIComponent(m[1]!) : undefined;
    const resource = (m[2] ?? m[3]) as KubeResource;
    const name = m[4] ? decodeURIComponent(m[4]) : undefined;
    const body = req.method === "GET" || req.method === "DELETE" ? undefined : await readBody(req);
    const table = wantsTable(req.headers.accept);
    switch (req.method) {
      case "GET":
        if (name) return this.getOne(res, resource, name, namespace, table);
        if (watch) return this.watch(res, resource, namespace, query, table);
        return this.list(res, resource, namespace, query, table);
      case "POST":
        return this.create(res, resource, namespace, parseJson(body!));
      case "PUT":
        return this.replace(res, resource, name, namespace, parseJson(body!));
      case "PATCH":
        return this.patch(res, resource, name, namespace, req.headers["content-type"], body!);
      case "DELETE":
        return this.del(res, resource, name, namespace);
    }
    return this.status(res, 405, "MethodNotAllowed", `${req.method} is not supported`);
  }

  private apiVersions(req: http.IncomingMessage) {
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: req.headers.host ?? "" }],
    };
  }

  private selectors(res: http.ServerResponse, resource: KubeResource, query: Record<string, string>) {
    try {
      return {
        labels: parseLabelSelector(query.labelSelector ?? null),
        fields: parseFieldSelector(resource, query.fieldSelector ?? null),
      };
    } catch (err) {
      if (!(err instanceof SelectorError)) throw err;
      this.status(res, 400, "BadRequest", err.message);
      return undefined;
    }
  }

  private matches(
    resource: KubeResource,
    sel: { labels: ReturnType<typeof parseLabelSelector>; fields: ReturnType<typeof parseFieldSelector> },
    namespace: string | undefined,
    o: KubeObject,
  ): boolean {
    return (
      (!namespace || o.metadata.namespace === namespace) &&
      matchesLabels(sel.labels, o.metadata.labels) &&
      matchesFields(resource, sel.fields, o)
    );
  }

  private list(
    res: http.ServerResponse,
    resource: KubeResource,
    namespace: string | undefined,
    query: Record<string, string>,
    table: boolean,
  ): void {
    const sel = this.selectors(res, resource, query);
    if (!sel) return;
    let items = [...this.store[resource].values()]
      .filter((o) => this.matches(resource, sel, namespace, o))
      .sort((a, b) => keyOf(resource, a).localeCompare(keyOf(resource, b)));
    let start = 0;
    if (query.continue) {
      const token = decodeContinue(query.continue);
      if (!token || token.rv < this.oldestResumable) {
        // An expired continue key is 410 Gone, as on a real server after compaction.
        if (token) this.status(res, 410, "Expired", "The provided continue parameter is too old");
        else this.status(res, 400, "BadRequest", "continue key is not valid");
        return;
      }
      start = items.findIndex((o) => keyOf(resource, o) > token.after);
      if (start < 0) start = items.length;
    }
    const limit = Number(query.limit ?? 0);
    const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
    const more = limit > 0 && start + limit < items.length;
    items = page;
    const metadata: Record<string, string | number> = { resourceVersion: String(this.rv) };
    if (more) {
      metadata.continue = encodeContinue(this.rv, keyOf(resource, page[page.length - 1]!));
      metadata.remainingItemCount = 0;
    }
    this.json(
      res,
      200,
      table
        ? { ...toTable(resource, items), metadata }
        : { kind: `${RESOURCES[resource].kind}List`, apiVersion: "v1", metadata, items },
    );
  }

  private watch(
    res: http.ServerResponse,
    resource: KubeResource,
    namespace: string | undefined,
    query: Record<string, string>,
    table: boolean,
  ): void {
    const sel = this.selectors(res, resource, query);
    if (!sel) return;
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const w: OpenWatch = { resource, namespace, ...sel, res, table, sent: 0 };
    const from = query.resourceVersion;
    if (from && from !== "0") {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < this.oldestResumable) {
        // What a real server's watch cache answers: HTTP 200, one ERROR event, end of stream.
        const status = statusObject(
          410,
          "Expired",
          `too old resource version: ${from} (${this.oldestResumable})`,
        );
        res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
        return;
      }
      for (const e of this.history) if (e.rv > rv && e.resource === resource) this.deliver(w, e);
    } else {
      // No version: the current state as ADDED events, then the changes after it.
      for (const o of this.store[resource].values())
        if (this.matches(resource, w, namespace, o)) this.write(w, "ADDED", o);
    }
    this.watches.add(w);
    let bookmarks: NodeJS.Timeout | undefined;
    if (query.allowWatchBookmarks === "true" || query.allowWatchBookmarks === "1") {
      bookmarks = setInterval(() => {
        const kind = RESOURCES[resource].kind;
        res.write(
          `${JSON.stringify({ type: "BOOKMARK", object: { kind, apiVersion: "v1", metadata: { resourceVersion: String(this.rv) } } })}\n`,
        );
      }, this.bookmarkIntervalMs);
    }
    let timeout: NodeJS.Timeout | undefined;
    if (query.timeoutSeconds) timeout = setTimeout(() => res.end(), Number(query.timeoutSeconds) * 1000);
    res.on("close", () => {
      clearInterval(bookmarks);
      clearTimeout(timeout);
      this.watches.delete(w);
    });
  }

  /** Sends one change to one watch, as the real watch cache filters it through the selectors. */
  private deliver(w: OpenWatch, e: HistoryEntry): void {
    const now = e.type !== "DELETED" && this.matches(e.resource, w, w.namespace, e.object);
    const before = e.previous !== undefined && this.matches(e.resource, w, w.namespace, e.previous);
    if (e.type === "DELETED") {
      if (before) this.write(w, "DELETED", e.object);
    } else if (now && before) this.write(w, "MODIFIED", e.object);
    else if (now) this.write(w, "ADDED", e.object);
    else if (before) this.write(w, "DELETED", e.object);
  }

  private write(w: OpenWatch, type: EventType, o: KubeObject): void {
    w.sent++;
    this.eventsSent[w.resource]++;
    const object = w.table ? toTable(w.resource, [o]) : o;
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private record(
    resource: KubeResource,
    type: EventType,
    object: KubeObject,
    previous: KubeObject | undefined,
  ): void {
    const e: HistoryEntry = { rv: Number(object.metadata.resourceVersion), resource, type, object, previous };
    this.history.push(e);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.oldestResumable = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.watches) if (w.resource === resource) this.deliver(w, e);
  }

  /** What the real server sets on every write: a new resourceVersion, and uid / timestamp once. */
  private stamp(resource: KubeResource, obj: KubeObject, previous: KubeObject | undefined): KubeObject {
    obj.apiVersion = "v1";
    obj.kind = RESOURCES[resource].kind;
    obj.metadata.uid = previous?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp =
      previous?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z");
    obj.metadata.resourceVersion = String(++this.rv);
    if (resource === "namespaces") {
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name };
      obj.status ??= { phase: "Active" };
    }
    if (resource === "pods") obj.status ??= { phase: "Pending" };
    return obj;
  }

  private getOne(
    res: http.ServerResponse,
    resource: KubeResource,
    name: string,
    namespace: string | undefined,
    table: boolean,
  ): void {
    const o = this.get(resource, name, namespace);
    if (o) this.json(res, 200, table ? toTable(resource, [o]) : o);
    else this.notFound(res, resource, name);
  }

  private create(
    res: http.ServerResponse,
    resource: KubeResource,
    namespace: string | undefined,
    obj: unknown,
  ) {
    const o = this.validObject(res, resource, obj, namespace);
    if (!o) return;
    if (this.get(resource, o.metadata.name, o.metadata.namespace)) {
      return this.status(res, 409, "AlreadyExists", `${resource} "${o.metadata.name}" already exists`, {
        name: o.metadata.name,
        kind: resource,
      });
    }
    delete o.metadata.resourceVersion;
    this.json(res, 201, this.upsert(resource, o));
  }

  private replace(
    res: http.ServerResponse,
    resource: KubeResource,
    name: string | undefined,
    namespace: string | undefined,
    obj: unknown,
  ) {
    const o = this.validObject(res, resource, obj, namespace);
    if (!o) return;
    const current = name && this.get(resource, name, namespace);
    if (!current) return this.notFound(res, resource, name ?? "");
    const rv = o.metadata.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) {
      return this.status(
        res,
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    this.json(res, 200, this.upsert(resource, o));
  }

  private patch(
    res: http.ServerResponse,
    resource: KubeResource,
    name: string | undefined,
    namespace: string | undefined,
    contentType: string | undefined,
    body: string,
  ) {
    const current = name && this.get(resource, name, namespace);
    if (!current) return this.notFound(res, resource, name ?? "");
    const type = (contentType ?? "").split(";")[0]!.trim();
    if (type !== "application/strategic-merge-patch+json" && type !== "application/merge-patch+json") {
      return this.status(
        res,
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format: ${type}`,
      );
    }
    const patch = parseJson(body);
    if (!patch || typeof patch !== "object")
      return this.status(res, 400, "BadRequest", "the patch is not a JSON object");
    const merged = mergePatch(
      structuredClone(current),
      patch,
      type.startsWith("application/strategic"),
    ) as KubeObject;
    this.json(res, 200, this.upsert(resource, merged));
  }

  private del(
    res: http.ServerResponse,
    resource: KubeResource,
    name: string | undefined,
    namespace?: string,
  ) {
    const gone = name ? this.remove(resource, name, namespace) : undefined;
    if (!gone) return this.notFound(res, resource, name ?? "");
    this.json(res, 200, gone);
  }

  private validObject(
    res: http.ServerResponse,
    resource: KubeResource,
    obj: unknown,
    namespace: string | undefined,
  ): KubeObject | undefined {
    const o = obj as KubeObject | undefined;
    if (!o || typeof o !== "object" || typeof o.metadata?.name !== "string" || o.metadata.name === "") {
      this.status(
        res,
        422,
        "Invalid",
        `${RESOURCES[resource].kind} is invalid: metadata.name: Required value`,
      );
      return undefined;
    }
    if (o.kind && o.kind !== RESOURCES[resource].kind) {
      this.status(res, 400, "BadRequest", `the kind ${o.kind} does not match the resource ${resource}`);
      return undefined;
    }
    if (RESOURCES[resource].namespaced) {
      if (o.metadata.namespace && namespace && o.metadata.namespace !== namespace) {
        this.status(
          res,
          400,
          "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request",
        );
        return undefined;
      }
      o.metadata.namespace = namespace ?? o.metadata.namespace ?? "default";
    }
    return o;
  }

  private notFound(res: http.ServerResponse, resource: KubeResource, name: string): void {
    this.status(res, 404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource });
  }

  private status(
    res: http.ServerResponse,
    code: number,
    reason: string,
    message: string,
    details?: Record<string, string>,
  ): void {
    this.json(res, code, statusObject(code, reason, message, details));
  }

  private json(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }
}

const VERSION = {
  major: "1",
  minor: "31",
  gitVersion: "v1.31.0+meridian-stand-in",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "n/a (a test stand-in written in TypeScript)",
  compiler: "n/a",
  platform: "linux/amd64",
};

const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
const API_RESOURCES = {
  kind: "APIResourceList",
  groupVersion: "v1",
  resources: (Object.entries(RESOURCES) as [KubeResource, (typeof RESOURCES)[KubeResource]][]).map(
    ([name, r]) => ({
      name,
      singularName: r.kind.toLowerCase(),
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
      shortNames: r.shortNames,
      ...(name === "pods" ? { categories: ["all"] } : {}),
    }),
  ),
};

function statusObject(code: number, reason: string, message: string, details?: Record<string, string>) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function keyOf(resource: KubeResource, o: KubeObjectLike): string {
  const name = o.metadata?.name ?? "";
  return RESOURCES[resource].namespaced ? `${o.metadata?.namespace ?? "default"}/${name}` : name;
}

function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? "");
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString("base64url");
}

function decodeContinue(token: string): { rv: number; after: string } | undefined {
  const v = parseJson(Buffer.from(token, "base64url").toString("utf8")) as { rv?: unknown; after?: unknown };
  return typeof v?.rv === "number" && typeof v.after === "string" ? { rv: v.rv, after: v.after } : undefined;
}

/** Lists a strategic merge patch merges by key rather than replaces (the ones kubectl touches). */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ports: "containerPort",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
};

/**
 * JSON merge patch (RFC 7386: null deletes, objects merge, lists replace), and for a strategic
 * merge patch also the keyed lists above merged element by element and `$`-directives dropped.
 */
function mergePatch(target: unknown, patch: unknown, strategic: boolean, field = ""): unknown {
  if (Array.isArray(patch)) {
    const key = strategic ? MERGE_KEYS[field] : undefined;
    if (!key || !Array.isArray(target)) return patch;
    const out = [...(target as Record<string, unknown>[])];
    for (const item of patch as Record<string, unknown>[]) {
      const i = out.findIndex((t) => t?.[key] === item?.[key]);
      if (i >= 0) out[i] = mergePatch(out[i], item, strategic) as Record<string, unknown>;
      else out.push(item);
    }
    return out;
  }
  if (!patch || typeof patch !== "object") return patch;
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (strategic && k.startsWith("$")) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v, strategic, k);
  }
  return out;
}

/** kubectl's human-readable `get`: the columns the real server prints for these resources. */
function toTable(resource: KubeResource, items: KubeObject[]) {
  const age = (o: KubeObject) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(o.metadata.creationTimestamp ?? "")) / 1000));
    return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
  };
  const columns: { name: string; cell: (o: KubeObject) => string | number }[] =
    resource === "pods"
      ? [
          { name: "Name", cell: (o) => o.metadata.name },
          {
            name: "Ready",
            cell: (o) => {
              const cs = ((o.status as Record<string, unknown> | undefined)?.containerStatuses ?? []) as {
                ready?: boolean;
              }[];
              const total =
                ((o.spec as Record<string, unknown> | undefined)?.containers as unknown[])?.length ?? 0;
              return `${cs.filter((c) => c.ready).length}/${total}`;
            },
          },
          {
            name: "Status",
            cell: (o) => String((o.status as Record<string, unknown> | undefined)?.phase ?? ""),
          },
          { name: "Restarts", cell: () => 0 },
          { name: "Age", cell: age },
        ]
      : [
          { name: "Name", cell: (o) => o.metadata.name },
          {
            name: "Status",
            cell: (o) =>
              resource === "nodes"
                ? "Ready"
                : String((o.status as Record<string, unknown> | undefined)?.phase ?? ""),
          },
          { name: "Age", cell: age },
        ];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: {},
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.name === "Restarts" ? "integer" : "string",
      format: c.name === "Name" ? "name" : "",
      description: "",
      priority: 0,
    })),
    rows: items.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object: {
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: o.metadata,
      },
    })),
  };
}
