// Request handling for the agent's two listeners: the unix socket (CNI and CLI, full
// access) and the TCP address (/healthz and /metrics only). Every request body is
// validated; a malformed request gets a 4xx naming the problem and never reaches the
// kernel or crashes the agent.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CniCode, CniError, describeZodError } from "../cni/spec.js";
import type { BgpController } from "../features/bgp/controller.js";
import type { AgentEndpoint, Datapath, FlowEvent } from "../features/policy/datapath.js";
import type { AgentMetrics } from "../status/metrics.js";
import type { EndpointManager } from "./endpoints.js";
import { type AgentStatusView, cniGcRequestSchema, cniRequestSchema, type EndpointView } from "./protocol.js";

const MAX_BODY = 1024 * 1024;

export interface AgentSurface {
  endpoints: EndpointManager;
  datapath: Datapath;
  metrics: AgentMetrics;
  status(): AgentStatusView;
  /** The control plane's compiled state for an endpoint, if any. */
  desiredFor(ep: AgentEndpoint): unknown;
  /** The BGP controller, when the agent runs one. */
  bgp?: BgpController;
  /** Null when healthy, else why not. */
  unhealthyReason(): string | null;
}

export function createHandler(agent: AgentSurface, privileged: boolean) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    route(agent, privileged, req, res).catch((err: unknown) => {
      sendJson(res, 500, { code: CniCode.Internal, msg: (err as Error).message ?? String(err) });
    });
  };
}

async function route(agent: AgentSurface, privileged: boolean, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://agent");
  const p = url.pathname;
  if (req.method === "GET" && p === "/healthz") {
    const why = agent.unhealthyReason();
    res.writeHead(why ? 503 : 200, { "content-type": "text/plain" });
    res.end(why ? `unhealthy: ${why}\n` : "ok\n");
    return;
  }
  if (req.method === "GET" && p === "/metrics") {
    const body = await agent.metrics.registry.metrics();
    res.writeHead(200, { "content-type": agent.metrics.registry.contentType });
    res.end(body);
    return;
  }
  if (!privileged) return sendJson(res, 404, { msg: `${p} is only served on the agent's unix socket` });

  if (req.method === "POST" && p === "/v1/cni") {
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
        return sendJson(res, err.code === CniCode.Internal ? 500 : 422, err.toJSON(parsed.data.cniVersion));
      }
      return sendJson(res, 500, { code: CniCode.Internal, msg: (err as Error).message });
    }
  }
  if (req.method === "POST" && p === "/v1/cni/gc") {
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
  }
  if (req.method === "GET" && p === "/v1/cni/status") {
    const why = agent.unhealthyReason();
    return why ? sendJson(res, 503, { msg: why }) : sendJson(res, 200, { ready: true });
  }
  if (req.method === "GET" && p === "/v1/status") return sendJson(res, 200, agent.status());
  if (req.method === "GET" && p === "/v1/endpoints") {
    const views: EndpointView[] = agent.endpoints
      .list()
      .map((ep) => ({ ...ep, mac: ep.mac, datapath: "applied" }));
    return sendJson(res, 200, views);
  }
  const policy = /^\/v1\/endpoints\/(.+)\/policy$/.exec(p);
  if (req.method === "GET" && policy) {
    const ref = decodeURIComponent(policy[1]!);
    const ep = agent.endpoints.find(ref);
    if (!ep) return sendJson(res, 404, { msg: `no endpoint matches "${ref}" on this node` });
    return sendJson(res, 200, {
      endpoint: ep,
      desired: agent.desiredFor(ep) ?? null,
      datapath: await agent.datapath.policyFor(ep),
    });
  }
  if (req.method === "GET" && p.startsWith("/v1/bgp/")) {
    const bgp = agent.bgp;
    if (!bgp) return sendJson(res, 404, { msg: "BGP is not running in this agent" });
    if (p === "/v1/bgp/peers") return sendJson(res, 200, bgp.status());
    const routes = /^\/v1\/bgp\/routes\/(received|advertised)\/([^/]+)$/.exec(p);
    if (routes) {
      const peer = decodeURIComponent(routes[2]!);
      const family = url.searchParams.get("family") || undefined;
      // By name, address or "instance/peer" (two instances' peers are told apart by the instance).
      const known = bgp
        .status()
        .peers.some((x) =>
          [x.address, x.name, `${x.instance}/${x.name}`, `${x.instance}/${x.address}`].includes(peer),
        );
      if (!known) return sendJson(res, 404, { msg: `no BGP peer "${peer}" on this node` });
      try {
        return sendJson(
          res,
          200,
          routes[1] === "received" ? bgp.receivedRoutes(peer, family) : bgp.advertisedRoutes(peer, family),
        );
      } catch (err) {
        return sendJson(res, 400, { msg: (err as Error).message });
      }
    }
  }
  if (req.method === "GET" && p === "/v1/flows") {
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const onFlow = (f: FlowEvent) => res.write(`${JSON.stringify(f)}\n`);
    agent.datapath.flows.on("flow", onFlow);
    // Without follow: the recent history the datapath keeps (if any), then the end.
    if (url.searchParams.get("follow") !== "1") {
      agent.datapath.flows.off("flow", onFlow);
      for (const f of agent.datapath.recentFlows?.() ?? []) onFlow(f);
      res.end();
      return;
    }
    req.on("close", () => agent.datapath.flows.off("flow", onFlow));
    return;
  }
  sendJson(res, 404, { msg: `no route for ${req.method} ${p}` });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
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
