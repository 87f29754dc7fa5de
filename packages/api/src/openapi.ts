// The same procedures as REST under /api/v1, with a generated OpenAPI document.
import type { Db } from "@meridian/db";
import { createOpenApiFetchHandler, generateOpenApiDocument } from "trpc-to-openapi";
import type { ChangeFeed } from "./agent/change-feed";
import { retryAfterMeta } from "./auth/too-many-requests";
import { limitFetchRequest } from "./limits/http";
import { appRouter } from "./root";
import { createContext } from "./trpc";

export const OPENAPI_BASE = "/api/v1";

let cached: { baseUrl: string; doc: ReturnType<typeof generateOpenApiDocument> } | null = null;

export function createOpenApiDocument(baseUrl = OPENAPI_BASE) {
  if (cached?.baseUrl === baseUrl) return cached.doc;
  const doc = generateOpenApiDocument(appRouter, {
    title: "Meridian API",
    description:
      "Meridian control plane. Authenticate with `Authorization: Bearer <API token>` (create one under Settings → API tokens).",
    version: "1.0.0",
    baseUrl,
    securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
  });
  cached = { baseUrl, doc };
  return doc;
}

/**
 * A fetch handler for Next.js route handlers (`app/api/v1/[...path]/route.ts`): serves
 * `/api/v1/openapi.json` and every REST operation.
 */
export function createOpenApiHandler(opts: { db: Db; changeFeed?: ChangeFeed }) {
  return async (incoming: Request): Promise<Response> => {
    const req = await limitFetchRequest(incoming);
    if (req instanceof Response) return req;
    const url = new URL(req.url);
    if (url.pathname === `${OPENAPI_BASE}/openapi.json`) {
      return Response.json(createOpenApiDocument(`${url.origin}${OPENAPI_BASE}`));
    }
    return createOpenApiFetchHandler({
      endpoint: OPENAPI_BASE,
      router: appRouter,
      req,
      createContext: () => createContext({ db: opts.db, changeFeed: opts.changeFeed, headers: req.headers }),
      responseMeta: retryAfterMeta,
    });
  };
}
