// GET /metrics for Prometheus, on the API's own server and the console's. Unlike the agent's
// /metrics (bound to 127.0.0.1 on the node), this one is reachable wherever the console is, so it
// asks for an API token (any role; create a viewer token for Prometheus) or a signed-in person;
// anonymous callers get 401 and node credentials 403. The answer names no object, only counts.
import type { Db } from "@meridian/db";
import { resolveCaller } from "../auth/caller";
import { renderMetrics } from "./registry";

export async function metricsResponse(
  db: Db,
  headers: Headers,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const caller = await resolveCaller(db, headers);
  const text = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };
  if (caller.kind === "anonymous")
    return {
      status: 401,
      headers: { ...text, "www-authenticate": 'Bearer realm="meridian"' },
      body: "send an API token: Authorization: Bearer <token>\n",
    };
  if (caller.kind !== "user" && caller.kind !== "token")
    return { status: 403, headers: text, body: "node credentials may only use the agent channel\n" };
  const { contentType, body } = await renderMetrics(db);
  return { status: 200, headers: { "content-type": contentType, "cache-control": "no-store" }, body };
}
