import { appRouter, createContext } from "@meridian/api";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ db: getDb(), headers: req.headers }),
  });
}

export { handler as GET, handler as POST };
