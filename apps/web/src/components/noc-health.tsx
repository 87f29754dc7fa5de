"use client";
// The NOC wall's DNS proxy, egress gateway and SRv6 VPN site tiles: health.overview, read again
// whenever the status stream wakes (agents' status, flow and DNS query reports wake it) and at
// least every 30 s, so per-minute rates fall as queries age out and silent agents turn stale.
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { dnsRates, type Health, otherStates, perMin } from "@/lib/health";
import { useTRPC } from "@/lib/trpc";
import { StatusBadge } from "./status";

/**
 * One tile: how many are in the healthy state out of all, every other state by name and count
 * ("all …" when there is none), and a line of detail.
 */
function StatesTile(p: {
  title: string;
  states: string[];
  healthy: string;
  of: string;
  testId: string;
  line: string;
  muted?: boolean;
}) {
  const others = otherStates(p.states, p.healthy);
  return (
    <div className="noc-tile">
      <h2>{p.title}</h2>
      <p className="noc-num" data-testid={p.testId}>
        {p.states.filter((s) => s === p.healthy).length}
        <span className="noc-of">
          {" "}
          / {p.states.length} {p.of}
        </span>
      </p>
      <ul className="inline-list" data-testid={`${p.testId}-states`}>
        {others.length === 0 ? (
          <li>
            <StatusBadge
              tone={p.states.length ? "ok" : "unknown"}
              label={p.states.length ? `all ${p.healthy}` : "none configured"}
            />
          </li>
        ) : (
          others.map((o) => (
            <li key={o.state}>
              <StatusBadge tone={o.tone} label={`${o.count} ${o.state}`} />
            </li>
          ))
        )}
      </ul>
      <p className={p.muted ? "noc-line muted" : "noc-line"} data-testid={`${p.testId}-line`}>
        {p.line}
      </p>
    </div>
  );
}

function Tiles({ h }: { h: Health }) {
  const rates = dnsRates(h.dns.nodes);
  const fmt = (n: number) => n.toLocaleString("en-GB");
  return (
    <>
      <StatesTile
        title="DNS proxies"
        states={h.dns.nodes.map((n) => n.state)}
        healthy="up"
        of="up"
        testId="noc-dns"
        line={`${perMin(rates.refusals)} refused · ${perMin(rates.timeouts)} timeouts`}
      />
      <StatesTile
        title="Egress policies"
        states={h.egress.policies.map((p) => p.state)}
        healthy="forwarding"
        of="forwarding"
        testId="noc-egress"
        muted
        line={h.egress.policies
          .filter((p) => p.state !== "forwarding")
          .slice(0, 3)
          .map((p) => `${p.name} ${p.state}`)
          .join(" · ")}
      />
      <StatesTile
        title="SRv6 VPN sites"
        states={h.srv6.vrfs.map((v) => v.state)}
        healthy="reachable"
        of="VRFs reachable"
        testId="noc-srv6"
        line={`${fmt(h.srv6.encapsulated)} encap · ${fmt(h.srv6.decapsulated)} decap · ${fmt(h.srv6.drops)} dropped`}
      />
    </>
  );
}

export function NocHealth({ wake }: { wake: unknown }) {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.health.overview.queryOptions(undefined), refetchInterval: 30_000 });
  const { refetch } = q;
  useEffect(() => {
    if (wake) void refetch();
  }, [wake, refetch]);
  if (!q.data) {
    return (
      <div className="noc-tile">
        <h2>DNS, egress, SRv6</h2>
        <StatusBadge tone="unknown" label={q.isError ? "unavailable" : "…"} />
      </div>
    );
  }
  return <Tiles h={q.data} />;
}
