// Prometheus scrape of the control plane (packages/api/src/metrics): an API token is required
// (Authorization: Bearer …), as the console is reachable where the agents' /metrics is not.
import { metricsResponse } from "@meridian/api";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

export async function GET(req: Request) {
  const r = await metricsResponse(getDb(), req.headers);
  return new Response(r.body, { status: r.status, headers: r.headers });
}
