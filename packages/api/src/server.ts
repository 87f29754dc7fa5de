// A plain node:http server for the API (tRPC at /api/trpc, REST at /api/v1): used by tests,
// benchmarks and any deployment that runs the API without Next.js.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Db } from "@meridian/db";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { createOpenApiHttpHandler } from "trpc-to-openapi";
import type { ChangeFeed } from "./agent/change-feed";
import { stampClientAddress } from "./auth/client-address";
import { retryAfterMeta } from "./auth/too-many-requests";
import { MAX_BATCH, MAX_BODY_BYTES, requestHeadersProblem } from "./limits/http";
import { metricsResponse } from "./metrics/handler";
import { createOpenApiDocument, OPENAPI_BASE } from "./openapi";
import { appRouter } from "./root";
import { createContext } from "./trpc";

export const TRPC_BASE = "/api/trpc";

function headersOf(req: http.IncomingMessage): Headers {
  // trpc-to-openapi hands createContext a fetch-style request whose headers are already Headers.
  if ((req.headers as unknown) instanceof Headers) return req.headers as unknown as Headers;
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const x of v) h.append(k, x);
    else if (v !== undefined) h.set(k, v);
  }
  return h;
}

export function createHttpHandler(opts: { db: Db; changeFeed?: ChangeFeed }): http.RequestListener {
  const ctx = (req: http.IncomingMessage) =>
    createContext({ db: opts.db, changeFeed: opts.changeFeed, headers: headersOf(req) });
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: `${TRPC_BASE}/`,
    maxBodySize: MAX_BODY_BYTES,
    maxBatchSize: MAX_BATCH,
    createContext: ({ req }) => ctx(req),
    responseMeta: retryAfterMeta,
  });
  const rest = createOpenApiHttpHandler({
    router: appRouter,
    maxBodySize: MAX_BODY_BYTES,
    createContext: ({ req }) => ctx(req),
    responseMeta: retryAfterMeta,
  });
  return (req, res) => {
    stampClientAddress(req);
    const url = req.url ?? "/";
    // Responses may carry secrets (a new token) and are never for a cache or a sniffer.
    res.setHeader("cache-control", "no-store");
    res.setHeader("x-content-type-options", "nosniff");
    const refused = requestHeadersProblem(req.method ?? "GET", headersOf(req));
    if (refused) {
      res.statusCode = refused.status;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ message: refused.message, error: { message: refused.message } }));
      req.resume();
      return;
    }
    if (url === "/metrics" && req.method === "GET") {
      void metricsResponse(opts.db, headersOf(req)).then(
        (r) => {
          res.writeHead(r.status, r.headers);
          res.end(r.body);
        },
        () => {
          res.statusCode = 500;
          res.end("metrics unavailable\n");
        },
      );
      return;
    }
    if (url === `${OPENAPI_BASE}/openapi.json`) {
      const host = req.headers.host ?? "localhost";
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(createOpenApiDocument(`http://${host}${OPENAPI_BASE}`)));
      return;
    }
    if (url.startsWith(`${OPENAPI_BASE}/`)) {
      req.url = url.slice(OPENAPI_BASE.length);
      void rest(req, res);
      return;
    }
    if (url.startsWith(`${TRPC_BASE}/`)) {
      trpc(req, res);
      return;
    }
    res.statusCode = 404;
    res.end("not found");
  };
}

export interface RunningServer {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

export async function startServer(opts: {
  db: Db;
  changeFeed?: ChangeFeed;
  port?: number;
  host?: string;
}): Promise<RunningServer> {
  const server = http.createServer(createHttpHandler(opts));
  // Thousands of long-lived SSE connections are the normal case, not an attack.
  server.maxConnections = 100_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
