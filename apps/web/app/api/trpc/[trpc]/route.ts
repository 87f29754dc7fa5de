import { createTrpcFetchHandler } from "@meridian/api";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

// The API's own fetch handler: its batch and body limits, and Retry-After on a 429, hold here as
// on the plain server.
const handler = createTrpcFetchHandler({ db: getDb });

export { handler as GET, handler as POST };
