"use client";
// Keeps server-rendered pages honest: the status subscription (SSE) wakes on every revision and
// every agent report, and each wake re-renders the page's server components in place. While the
// stream is down the bar says the data may be stale, and EventSource reconnects by itself.
// The first event is the overview at subscribe time: it re-renders too when anything in it is newer
// than the server render, since a report between the render and the subscription would otherwise
// stay unseen until the next one.
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { useTRPC } from "@/lib/trpc";

/** The newest moment the overview knows of: a revision's or a report's. */
function newestChange(overview: {
  at: Date;
  nodes: { lastHeartbeatAt: Date | null; components: { updatedAt: Date }[] }[];
}): number {
  let newest = 0;
  for (const node of overview.nodes) {
    newest = Math.max(newest, node.lastHeartbeatAt?.getTime() ?? 0);
    for (const c of node.components) newest = Math.max(newest, c.updatedAt.getTime());
  }
  return newest;
}

export function LiveIndicator({ renderedAt }: { renderedAt: number }) {
  const trpc = useTRPC();
  const router = useRouter();
  const first = useRef(true);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const sub = useSubscription(
    trpc.status.live.subscriptionOptions(undefined, {
      onData: (overview) => {
        setUpdatedAt(new Date());
        const wasFirst = first.current;
        first.current = false;
        if (!wasFirst || newestChange(overview) > renderedAt) router.refresh();
      },
    }),
  );
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 10_000);
    return () => clearInterval(t);
  }, []);
  const live = sub.status === "pending" && updatedAt;
  return (
    <output
      className={`live ${live ? "live-on" : "live-off"}`}
      aria-live="polite"
      data-testid="live-indicator"
    >
      <span aria-hidden="true">{live ? "●" : "▲"}</span>{" "}
      {live
        ? `Live · updated ${updatedAt.toISOString().slice(11, 19)} UTC`
        : sub.status === "error"
          ? "Live updates failed — data may be stale; retrying"
          : "Reconnecting — data may be stale"}
    </output>
  );
}
