// What the saved policy does now (policies.rollout): the pods it selects and, per node, whether the
// agent has applied the revision that last changed it. Re-rendered by the live indicator on every
// agent report, so "applied on every node" appears without a reload.
import type { AppRouter } from "@meridian/api";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { StatusBadge } from "./status";

type Rollout = inferRouterOutputs<AppRouter>["policies"]["rollout"];

const time = (d: Date | null) => (d ? `${d.toISOString().slice(11, 19)} UTC` : "never");

export function PolicyRollout({ r, namespace }: { r: Rollout; namespace: string }) {
  const applied = r.nodes.filter((n) => n.applied);
  const waiting = r.nodes.filter((n) => !n.applied);
  return (
    <section className="card" aria-labelledby="rollout-title" data-testid="policy-rollout">
      <h2 id="rollout-title">In force</h2>
      <p data-testid="rollout-selects">
        {!r.enabled ? (
          "Disabled: it selects no pods, and no node enforces it."
        ) : r.selected.total === 0 ? (
          "Selects no pods today: no endpoint matches its selector."
        ) : (
          <>
            Selects {r.selected.total} pod{r.selected.total === 1 ? "" : "s"}:{" "}
            {r.selected.pods.map((p, i) => (
              <span key={`${p.namespace}/${p.name}`}>
                {i > 0 ? ", " : ""}
                {p.namespace}/{p.name} <span className="muted">({p.node})</span>
              </span>
            ))}
            {r.selected.total > r.selected.pods.length
              ? ` and ${r.selected.total - r.selected.pods.length} more`
              : ""}
            {namespace ? (
              <>
                {" "}
                · <Link href={`/endpoints?namespace=${encodeURIComponent(namespace)}`}>endpoints</Link>
              </>
            ) : null}
          </>
        )}
      </p>
      <p data-testid="rollout-applied">
        {r.nodes.length === 0 ? (
          <StatusBadge tone="unknown" label="no node has joined yet" />
        ) : r.everyNode ? (
          <>
            <StatusBadge tone="ok" label="applied on every node" /> Revision {r.revision} is in force on all{" "}
            {r.nodes.length} node{r.nodes.length === 1 ? "" : "s"} (as of their last reports, the latest at{" "}
            {time(
              r.nodes.reduce<Date | null>(
                (m, n) => (n.lastHeartbeatAt && (!m || n.lastHeartbeatAt > m) ? n.lastHeartbeatAt : m),
                null,
              ),
            )}
            ).
          </>
        ) : (
          <>
            <StatusBadge tone="warn" label="applying" /> Revision {r.revision}: applied on {applied.length} of{" "}
            {r.nodes.length} nodes; waiting for{" "}
            {waiting
              .map(
                (n) =>
                  `${n.name} (${n.appliedRevision === null ? "nothing applied yet" : `at revision ${n.appliedRevision}`}${n.stale && n.lastHeartbeatAt ? `, no report since ${time(n.lastHeartbeatAt)}` : ""})`,
              )
              .join(", ")}
            .
          </>
        )}
      </p>
    </section>
  );
}
