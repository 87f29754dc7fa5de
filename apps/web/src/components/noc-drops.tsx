"use client";
// The NOC wall's drops tile: flows.drops, read again whenever the status stream wakes (agents'
// flow reports wake it too) and at least every 30 s, so the count also falls as drops age out.
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { DROPS_MINUTES, dropRuleLabel, TOP_REASONS } from "@/lib/flows";
import { useTRPC } from "@/lib/trpc";
import { StatusBadge } from "./status";

export function NocDrops({ wake }: { wake: unknown }) {
  const trpc = useTRPC();
  const q = useQuery({
    ...trpc.flows.drops.queryOptions({ minutes: DROPS_MINUTES }),
    refetchInterval: 30_000,
  });
  const { refetch } = q;
  useEffect(() => {
    if (wake) void refetch();
  }, [wake, refetch]);
  const d = q.data;
  return (
    <div className="noc-tile">
      <h2>Drops, {DROPS_MINUTES} min</h2>
      <p className="noc-num" data-testid="noc-drops">
        {d ? d.total.toLocaleString() : "—"}
        <span className="noc-of"> packets</span>
      </p>
      {d?.byReason.length ? (
        <ul className="inline-list" data-testid="noc-drop-reasons">
          {d.byReason.slice(0, TOP_REASONS).map((r) => (
            <li key={r.reason}>
              <StatusBadge tone="bad" label={`${r.reason} ${r.packets.toLocaleString()}`} title={r.words} />
            </li>
          ))}
          {d.topRules[0] ? <li className="muted">top rule {dropRuleLabel(d.topRules[0])}</li> : null}
        </ul>
      ) : (
        <StatusBadge tone={d ? "ok" : "unknown"} label={d ? "no drops" : q.isError ? "unavailable" : "…"} />
      )}
    </div>
  );
}
