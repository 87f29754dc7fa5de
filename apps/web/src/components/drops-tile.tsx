// Dropped packets of the last 15 minutes by reason (the top ones, each linked to those flows) and
// the rule that dropped most: the cluster's on the Overview, one node's or one endpoint's on their
// pages (flows.drops with a scope). Shapes and words, not colour alone.
import Link from "next/link";
import { DROPS_MINUTES, dropRuleLabel, TOP_REASONS } from "@/lib/flows";
import { serverCaller } from "@/server/caller";
import { StatusBadge } from "./status";

/** Whose drops: a node (by name), an endpoint (`ns/pod`), or the cluster's when neither. */
export interface DropsScope {
  node?: string;
  endpoint?: string;
}

/** The Flows page's filter for the same scope. */
function scopeQuery(scope: DropsScope): string {
  const [namespace, pod] = scope.endpoint?.split("/") ?? [];
  const q = new URLSearchParams({
    ...(scope.node ? { node: scope.node } : {}),
    ...(namespace && pod ? { namespace, pod } : {}),
  }).toString();
  return q ? `&${q}` : "";
}

export async function DropsTile({
  scope = {},
  testId = "drops-tile",
}: {
  scope?: DropsScope;
  testId?: string;
}) {
  const api = await serverCaller();
  const d = await api.flows.drops({ minutes: DROPS_MINUTES, ...scope });
  const top = d.byReason.slice(0, TOP_REASONS);
  const more = scopeQuery(scope);
  return (
    <div className="tile" data-testid={testId}>
      <h2>Drops, last {DROPS_MINUTES} min</h2>
      <ul className="stat-list">
        <li>
          <Link href={`/flows?verdict=dropped&since=${DROPS_MINUTES}m${more}`}>
            <span className="big">{d.total.toLocaleString()}</span>{" "}
            <StatusBadge tone={d.total ? "bad" : "ok"} label={d.total ? "packets dropped" : "no drops"} />
          </Link>
        </li>
        {top.map((r) => (
          <li key={r.reason}>
            <Link
              href={`/flows?verdict=dropped&reason=${encodeURIComponent(r.reason)}&since=${DROPS_MINUTES}m${more}`}
              title={r.words}
            >
              <span className="big">{r.packets.toLocaleString()}</span> <code>{r.reason}</code>
            </Link>
          </li>
        ))}
        {d.byReason.length > top.length ? (
          <li className="muted">and {d.byReason.length - top.length} more reasons</li>
        ) : null}
        {d.topRules[0] ? (
          <li>
            Top rule: <code>{dropRuleLabel(d.topRules[0])}</code>
          </li>
        ) : null}
        {d.lastReportAt === null ? (
          <li className="muted">
            {scope.node || scope.endpoint
              ? "No flows reported for it yet."
              : "No agent has reported flows yet."}
          </li>
        ) : null}
      </ul>
    </div>
  );
}
