"use client";
// Keeps server-rendered pages honest: the status subscription (SSE) wakes on every revision and
// every agent report, and each wake re-renders the page's server components in place. While the
// stream is down the bar says the data may be stale, and EventSource reconnects by itself.
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { useTRPC } from "@/lib/trpc";

export function LiveIndicator() {
  const trpc = useTRPC();
  const router = useRouter();
  const first = useRef(true);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const sub = useSubscription(
    trpc.status.live.subscriptionOptions(undefined, {
      onData: () => {
        setUpdatedAt(new Date());
        if (first.current) first.current = false;
        else router.refresh();
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
