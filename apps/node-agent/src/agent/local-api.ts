// Request handling for the agent's two listeners: the unix socket (CNI and CLI, full
// access) and the TCP address (/healthz and /metrics only). The routes come from the agent's
// core (CNI, status, endpoints) and from each subsystem (src/features/*: policy, flows, BGP);
// this file only dispatches. Every request body is validated; a malformed request gets a 4xx
// naming the problem and never reaches the kernel or crashes the agent.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CniCode, CniError, describeZodError } from "../cni/spec.js";
import type { AgentMetrics } from "../status/metrics.js";
import type { EndpointManager } from "./endpoints.js";
import { type AgentStatusView, cniGcRequestSchema, cniRequestSchema, type EndpointView } from "./protocol.js";

const MAX_BODY = 1024 * 1024;

export interface LocalCall {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The groups of a pattern route's match, undecoded. */
  params: string[];
}

/** One route of the local API. */
export interface LocalRoute {
  method: "GET" | "POST";
  /** An exact path, or a pattern whose groups become `params`. */
  path: string | RegExp;
  /** Served on the TCP address as well; every other route only on the unix socket. */
  public?: boolean;
  handle(call: LocalCall): Promise<void> | void;
}

/** What the core routes read from the agent. */
export interface CoreSurface {
  endpoints: EndpointManager;
  metrics: AgentMetrics;
  status(): AgentStatusView;
  /** Null when healthy, else why not. */
  unhealthyReason(): string | null;
}

export function createHandler(routes: readonly LocalRoute[], privileged: boolean) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    dispatch(routes, privileged, req, res).catch((err: unknown) => {
      sendJson(res, 500, { code: CniCode.Internal, msg: (err as Error).message ?? String(err) });
    });
  };
}

async function dispatch(
  routes: readonly LocalRoute[],
  privileged: boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  const p = url.pathname;
  for (const route of routes) {
    if (route.method !== req.method) continue;
    let params: string[];
    if (typeof route.path === "string") {
      if (route.path !== p) continue;
      params = [];
    } else {
      const m = route.path.exec(p);
      if (!m) continue;
      params = m.slice(1).map((g) => g ?? "");
    }
    if (!privileged && !route.public) break;
    await route.handle({ req, res, url, params });
    return;
  }
  if (!privileged) return sendJson(res, 404, { msg: `${p} is only served on the agent's unix socket` });
  sendJson(res, 404, { msg: `no route for ${req.method} ${p}` });
}

/** The agent's own routes: health, metrics, CNI, status and the endpoint list. */
export function coreRoutes(agent: CoreSurface): LocalRoute[] {
  return [
    {
      method: "GET",
      path: "/healthz",
      public: true,
      handle({ res }) {
        const why = agent.unhealthyReason();
        res.writeHead(why ? 503 : 200, { "content-type": "text/plain" });
        res.end(why ? `unhealthy: ${why}\n` : "ok\n");
      },
    },
    {
      method: "GET",
      path: "/metrics",
      public: true,
      async handle({ res }) {
        const body = await agent.metrics.registry.metrics();
        res.writeHead(200, { "content-type": agent.metrics.registry.contentType });
        res.end(body);
      },
    },
    {
      method: "POST",
      path: "/v1/cni",
      async handle({ req, res }) {
        let body: unknown;
        try {
          body = JSON.parse(await readBody(req));
        } catch (err) {
          return sendJson(res, 400, {
            code: CniCode.DecodeFailure,
            msg: `request body: ${(err as Error).message}`,
          });
        }
        const parsed = cniRequestSchema.safeParse(body);
        if (!parsed.success) {
          return sendJson(res, 400, {
            code: CniCode.InvalidEnvironment,
            msg: describeZodError("invalid CNI request", parsed.error),
          });
        }
        if (parsed.data.command !== "DEL" && !parsed.data.netns) {
          return sendJson(res, 400, { code: CniCode.InvalidEnvironment, msg: "CNI_NETNS is required" });
        }
        try {
          const result = await agent.endpoints.handle(parsed.data);
          return sendJson(res, 200, result ?? {});
        } catch (err) {
          if (err instanceof CniError) {
            return sendJson(
              res,
              err.code === CniCode.Internal ? 500 : 422,
              err.toJSON(parsed.data.cniVersion),
            );
          }
          return sendJson(res, 500, { code: CniCode.Internal, msg: (err as Error).message });
        }
      },
    },
    {
      method: "POST",
      path: "/v1/cni/gc",
      async handle({ req, res }) {
        let parsed: ReturnType<typeof cniGcRequestSchema.safeParse>;
        try {
          parsed = cniGcRequestSchema.safeParse(JSON.parse(await readBody(req)));
        } catch (err) {
          return sendJson(res, 400, {
            code: CniCode.DecodeFailure,
            msg: `request body: ${(err as Error).message}`,
          });
        }
        if (!parsed.success) {
          return sendJson(res, 400, {
            code: CniCode.InvalidNetworkConfig,
            msg: describeZodError("invalid CNI GC request", parsed.error),
          });
        }
        try {
          const removed = await agent.endpoints.collect({ validAttachments: parsed.data.validAttachments });
          return sendJson(res, 200, { removed: removed.map((ep) => ep.id) });
        } catch (err) {
          return sendJson(res, 500, { code: CniCode.Internal, msg: (err as Error).message });
        }
      },
    },
    {
      method: "GET",
      path: "/v1/cni/status",
      handle({ res }) {
        const why = agent.unhealthyReason();
        return why ? sendJson(res, 503, { msg: why }) : sendJson(res, 200, { ready: true });
      },
    },
    { method: "GET", path: "/v1/status", handle: ({ res }) => sendJson(res, 200, agent.status()) },
    {
      method: "GET",
      path: "/v1/endpoints",
      handle({ res }) {
        const views: EndpointView[] = agent.endpoints
          .list()
          .map((ep) => ({ ...ep, mac: ep.mac, datapath: "applied" }));
        return sendJson(res, 200, views);
      },
    },
  ];
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
