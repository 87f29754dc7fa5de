// tRPC for Next.js route handlers (`app/api/trpc/[trpc]/route.ts`): the same router, batch limit
// and body limit as the plain node:http server (server.ts).
import type { Db } from "@meridian/db";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { ChangeFeed } from "./agent/change-feed";
import { retryAfterMeta } from "./auth/too-many-requests";
import { limitFetchRequest, MAX_BATCH } from "./limits/http";
import { appRouter } from "./root";
import { createContext } from "./trpc";

export function createTrpcFetchHandler(opts: {
  db: () => Db;
  changeFeed?: () => ChangeFeed | undefined;
  endpoint?: string;
}) {
  return async (incoming: Request): Promise<Response> => {
    const req = await limitFetchRequest(incoming);
    if (req instanceof Response) return req;
    return fetchRequestHandler({
      endpoint: opts.endpoint ?? "/api/trpc",
      req,
      router: appRouter,
      maxBatchSize: MAX_BATCH,
      responseMeta: retryAfterMeta,
      createContext: () =>
        createContext({ db: opts.db(), changeFeed: opts.changeFeed?.(), headers: req.headers }),
    });
  };
}
