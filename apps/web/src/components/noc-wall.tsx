"use client";
// NOC wall: large type, readable across a room, fed only by the status subscription (SSE).
// When the stream drops (server restart, network), it says so in words, keeps the last data
// marked as stale, and reconnects by itself.
import { useSubscription } from "@trpc/tanstack-react-query";
import { useEffect, useState } from "react";
import { bgpSessions, isUp } from "@/lib/bgp-status";
import { HEALTH_LABEL, type NodeHealth, nodeHealth } from "@/lib/node-health";
import { useTRPC } from "@/lib/trpc";
import { NocDrops } from "./noc-drops";
import { NocHealth } from "./noc-health";
import { StatusBadge, type Tone, toneOfHealth } from "./status";

const utc = (d: Date) => `${d.toISOString().slice(11, 19)} UTC`;

export function NocWall() {
  const trpc = useTRPC();
  const sub = useSubscription(trpc.status.live.subscriptionOptions(undefined));
  const [receivedAt, setReceivedAt] = useState<Date | null>(null);
  const [now, setNow] = useState<Date | null>(null);
  const data = sub.data;

  useEffect(() => {
    if (data) setReceivedAt(new Date());
  }, [data]);
  useEffect(() => {
    setNow(new Date());
    const t = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(t);
  }, []);
  // A stream that ended in an error is restarted; EventSource handles plain drops itself.
  const { reset } = sub;
  useEffect(() => {
    if (sub.status !== "error") return;
    const t = setTimeout(reset, 3000);
    return () => clearTimeout(t);
  }, [sub.status, reset]);

  const connected = sub.status === "pending" && Boolean(data);
  const nodes = (data?.nodes ?? []).map((n) => ({ ...n, health: nodeHealth(n) }));
  const count = (h: NodeHealth) => nodes.filter((n) => n.health === h).length;
  const sessions = data ? bgpSessions(data.nodes) : [];
  const up = sessions.filter((s) => isUp(s.state)).length;
  const attention = [
    ...nodes
      .filter((n) => n.health === "down" || n.health === "lagging")
      .map((n) => ({
        key: `n-${n.name}`,
        tone: toneOfHealth(n.health) as Tone,
        label: HEALTH_LABEL[n.health],
        text: `node ${n.name}${n.health === "lagging" ? ` at revision ${n.appliedRevision ?? "none"} of ${data?.currentRevision}` : ""}`,
      })),
    ...nodes.flatMap((n) =>
      n.components
        .filter((c) => c.state === "error" || c.state === "degraded")
        .map((c) => ({
          key: `c-${n.name}-${c.component}`,
          tone: toneOfHealth(c.state) as Tone,
          label: c.state,
          text: `${n.name} ${c.component}${c.message ? `: ${c.message}` : ""}`,
        })),
    ),
    ...sessions
      .filter((s) => !isUp(s.state))
      .map((s) => ({
        key: `b-${s.node}-${s.peer}`,
        tone: "bad" as Tone,
        label: `BGP ${s.state}`,
        text: `${s.node} ↔ ${s.peer}${s.lastError ? `: ${s.lastError}` : ""}`,
      })),
  ];

  return (
    <main className="noc" aria-label="NOC wall">
      <header className="noc-head">
        <h1>
          <span aria-hidden="true">◆</span> Meridian network
        </h1>
        <div className="noc-conn" data-testid="noc-connection">
          {connected ? (
            <StatusBadge tone="ok" label="Live" />
          ) : (
            <StatusBadge tone="warn" label={data ? "Reconnecting — data below is stale" : "Connecting…"} />
          )}
          <span className="noc-time" data-testid="noc-updated">
            Last update {receivedAt ? utc(receivedAt) : "—"}
          </span>
          <span className="noc-clock">Now {now ? utc(now) : ""}</span>
        </div>
      </header>
      <section className="noc-tiles" aria-label="Totals">
        <div className="noc-tile">
          <h2>Nodes in sync</h2>
          <p className="noc-num" data-testid="noc-in-sync">
            {count("in-sync")}
          </p>
          <StatusBadge tone="ok" label="in sync" />
        </div>
        <div className="noc-tile">
          <h2>Nodes lagging</h2>
          <p className="noc-num" data-testid="noc-lagging">
            {count("lagging")}
          </p>
          <StatusBadge tone="warn" label="lagging" />
        </div>
        <div className="noc-tile">
          <h2>Nodes down</h2>
          <p className="noc-num" data-testid="noc-down">
            {count("down")}
          </p>
          <StatusBadge tone="bad" label="down" />
        </div>
        <div className="noc-tile">
          <h2>BGP sessions</h2>
          <p className="noc-num" data-testid="noc-bgp">
            {up}
            <span className="noc-of"> / {sessions.length} up</span>
          </p>
          <StatusBadge
            tone={up === sessions.length ? "ok" : "bad"}
            label={up === sessions.length ? "all up" : `${sessions.length - up} down`}
          />
        </div>
        <NocDrops wake={data?.at} />
        <div className="noc-tile">
          <h2>Revision</h2>
          <p className="noc-num">{data?.currentRevision ?? "—"}</p>
          <span className="muted">desired state</span>
        </div>
      </section>
      <section className="noc-tiles noc-features" aria-label="DNS, egress and SRv6">
        <NocHealth wake={data?.at} />
      </section>
      <section className="noc-attention" aria-label="Needs attention">
        <h2>Needs attention</h2>
        {attention.length === 0 ? (
          <p className="noc-allgood" data-testid="noc-attention-empty">
            <StatusBadge tone="ok" label="Nothing needs attention" />
          </p>
        ) : (
          <ul data-testid="noc-attention">
            {attention.slice(0, 12).map((a) => (
              <li key={a.key}>
                <StatusBadge tone={a.tone} label={a.label} /> <span>{a.text}</span>
              </li>
            ))}
            {attention.length > 12 ? <li className="muted">and {attention.length - 12} more</li> : null}
          </ul>
        )}
      </section>
    </main>
  );
}
