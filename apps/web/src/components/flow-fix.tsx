// The editor's side of the flow → fix loop: `?fix=<flow record>` on a policy page (or the new
// policy page) asks flows.explain again for that record and opens the editor with the fix's spec.
// Asked again rather than carried in the URL, so the rule is the one checked against today's
// policies, and a record that needs no fix any more says so (as it does right after the save).
import type { AppRouter } from "@meridian/api";
import type { inferRouterOutputs } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import Link from "next/link";
import type { serverCaller } from "@/server/caller";

type Explanation = inferRouterOutputs<AppRouter>["flows"]["explain"];
type Fix = Explanation["fixes"][number];

export interface FlowFixLookup {
  flowId: string;
  /** The fix for this editor, checked to allow the flow; absent when there is none (`why` says). */
  found?: Fix;
  why?: string;
}

export async function flowFixFor(
  api: Awaited<ReturnType<typeof serverCaller>>,
  flowId: string | undefined,
  wanted: (fix: Fix) => boolean,
): Promise<FlowFixLookup | null> {
  if (!flowId || !/^\d{1,18}$/.test(flowId)) return null;
  const e = await api.flows.explain({ id: flowId }).catch((err: unknown) => {
    if (err instanceof TRPCError && err.code === "NOT_FOUND") return null;
    throw err;
  });
  if (!e) return { flowId, why: "the flow record is gone (older than the retention)" };
  const found = e.fixes.find((f) => wanted(f) && f.verdict === "allow");
  if (found) return { flowId, found };
  return { flowId, why: e.noFix ?? "no rule of this policy would allow it" };
}

export function FlowFixBanner({ fix }: { fix: FlowFixLookup | null }) {
  if (!fix) return null;
  const back = <Link href={`/flows?why=${fix.flowId}`}>flow record {fix.flowId}</Link>;
  if (!fix.found)
    return (
      <p className="banner" role="status" data-testid="flow-fix-banner">
        Nothing to pre-fill for {back}: {fix.why}.
      </p>
    );
  const f = fix.found;
  return (
    <p className="banner banner-warn" role="status" data-testid="flow-fix-banner">
      <span aria-hidden="true">▲ </span>
      Pre-filled from {back}: {f.direction} rule {f.ruleIndex + 1} added — {f.words}. Compiled with it, the
      flow is allowed ({f.reason}). Review it and save; nothing changes until you do.
    </p>
  );
}
