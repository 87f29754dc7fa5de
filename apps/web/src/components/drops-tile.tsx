// The Overview's drops tile: dropped packets of the last 15 minutes by reason (the top ones, each
// linked to those flows) and the rule that dropped most. Shapes and words, not colour alone.
import Link from "next/link";
import { DROPS_MINUTES, dropRuleLabel, TOP_REASONS } from "@/lib/flows";
import { serverCaller } from "@/server/caller";
import { StatusBadge } from "./status";

export async function DropsTile() {
  const api = await serverCaller();
  const d = await api.flows.drops({ minutes: DROPS_MINUTES });
  const top = d.byReason.slice(0, TOP_REASONS);
  return (
    <div className="tile" data-testid="drops-tile">
      <h2>Drops, last {DROPS_MINUTES} min</h2>
      <ul className="stat-list">
        <li>
          <Link href={`/flows?verdict=dropped&since=${DROPS_MINUTES}m`}>
            <span className="big">{d.total.toLocaleString()}</span>{" "}
            <StatusBadge tone={d.total ? "bad" : "ok"} label={d.total ? "packets dropped" : "no drops"} />
          </Link>
        </li>
        {top.map((r) => (
          <li key={r.reason}>
            <Link
              href={`/flows?verdict=dropped&reason=${encodeURIComponent(r.reason)}&since=${DROPS_MINUTES}m`}
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
        {d.lastReportAt === null ? <li className="muted">No agent has reported flows yet.</li> : null}
      </ul>
    </div>
  );
}
