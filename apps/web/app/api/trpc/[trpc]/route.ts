import { appRouter, createContext } from "@meridian/api";
import { retryAfterMeta } from "@meridian/api/auth/too-many-requests";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ db: getDb(), headers: req.headers }),
    responseMeta: retryAfterMeta,
  });
}

export { handler as GET, handler as POST };
