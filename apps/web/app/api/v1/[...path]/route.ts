// REST for everyone who is not TypeScript: the same procedures, with /api/v1/openapi.json.
import { changeFeedFor, createOpenApiHandler } from "@meridian/api";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

let handler: ((req: Request) => Promise<Response>) | null = null;

function handle(req: Request) {
  handler ??= createOpenApiHandler({
    db: getDb(),
    changeFeed: process.env.DATABASE_URL ? changeFeedFor(process.env.DATABASE_URL) : undefined,
  });
  return handler(req);
}

export { handle as DELETE, handle as GET, handle as PATCH, handle as POST, handle as PUT };
