"use client";
// The NOC wall's DNS proxy, egress gateway and SRv6 VPN site tiles: health.overview, read again
// whenever the status stream wakes (agents' status, flow and DNS query reports wake it) and at
// least every 30 s, so per-minute rates fall as queries age out and silent agents turn stale.
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { dnsRates, type Health, otherStates, perMin } from "@/lib/health";
import { useTRPC } from "@/lib/trpc";
import { StatusBadge } from "./status";

/** Every state but the healthy one, by name and count; "all …" when there is none. */
function States({
  states,
  healthy,
  all,
  testId,
}: {
  states: string[];
  healthy: string;
  all: string;
  testId: string;
}) {
  const others = otherStates(states, healthy);
  return (
    <ul className="inline-list" data-testid={testId}>
      {others.length === 0 ? (
        <li>
          <StatusBadge
            tone={states.length ? "ok" : "unknown"}
            label={states.length ? all : "none configured"}
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
  );
}

function Tiles({ h }: { h: Health }) {
  const rates = dnsRates(h.dns.nodes);
  const up = h.dns.nodes.filter((n) => n.state === "up").length;
  const forwarding = h.egress.policies.filter((p) => p.state === "forwarding").length;
  const reachable = h.srv6.vrfs.filter((v) => v.state === "reachable").length;
  return (
    <>
      <div className="noc-tile">
        <h2>DNS proxies</h2>
        <p className="noc-num" data-testid="noc-dns">
          {up}
          <span className="noc-of"> / {h.dns.nodes.length} up</span>
        </p>
        <States states={h.dns.nodes.map((n) => n.state)} healthy="up" all="all up" testId="noc-dns-states" />
        <p className="noc-line" data-testid="noc-dns-rates">
          {perMin(rates.refusals)} refused · {perMin(rates.timeouts)} timeouts
        </p>
      </div>
      <div className="noc-tile">
        <h2>Egress policies</h2>
        <p className="noc-num" data-testid="noc-egress">
          {forwarding}
          <span className="noc-of"> / {h.egress.policies.length} forwarding</span>
        </p>
        <States
          states={h.egress.policies.map((p) => p.state)}
          healthy="forwarding"
          all="all forwarding"
          testId="noc-egress-states"
        />
        <p className="noc-line muted">
          {h.egress.policies
            .filter((p) => p.state !== "forwarding")
            .slice(0, 3)
            .map((p) => `${p.name} ${p.state}`)
            .join(" · ")}
        </p>
      </div>
      <div className="noc-tile">
        <h2>SRv6 VPN sites</h2>
        <p className="noc-num" data-testid="noc-srv6">
          {reachable}
          <span className="noc-of"> / {h.srv6.vrfs.length} VRFs reachable</span>
        </p>
        <States
          states={h.srv6.vrfs.map((v) => v.state)}
          healthy="reachable"
          all="all reachable"
          testId="noc-srv6-states"
        />
        <p className="noc-line" data-testid="noc-srv6-counters">
          {h.srv6.encapsulated.toLocaleString("en-GB")} encap · {h.srv6.decapsulated.toLocaleString("en-GB")}{" "}
          decap · {h.srv6.drops.toLocaleString("en-GB")} dropped
        </p>
      </div>
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
