// The Overview's DNS proxy, egress gateway and SRv6 VPN site tiles (health.overview): healthy out
// of all, every other state by name, each linked to the page that explains it. Re-rendered by the
// live indicator whenever an agent reports.
import Link from "next/link";
import { dnsRates, type Health, otherStates, perMin, toneOfState } from "@/lib/health";
import { StatusBadge } from "./status";

function Others({ states, healthy }: { states: string[]; healthy: string }) {
  return otherStates(states, healthy).map((o) => (
    <li key={o.state}>
      <span className="big">{o.count}</span> <StatusBadge tone={o.tone} label={o.state} />
    </li>
  ));
}

export function HealthTiles({ health }: { health: Health }) {
  const { dns, egress, srv6 } = health;
  const dnsStates = dns.nodes.map((n) => n.state);
  const rates = dnsRates(dns.nodes);
  const egressStates = egress.policies.map((p) => p.state);
  const vrfStates = srv6.vrfs.map((v) => v.state);
  const sites = new Set(srv6.vrfs.flatMap((v) => v.sites.map((s) => `${v.name} ${s}`)));
  return (
    <>
      <div className="tile" data-testid="dns-tile">
        <h2>DNS proxy</h2>
        <ul className="stat-list">
          <li>
            <Link href="/dns">
              <span className="big">{dnsStates.filter((s) => s === "up").length}</span>{" "}
              <StatusBadge tone="ok" label={`up of ${dns.nodes.length} nodes`} />
            </Link>
          </li>
          <Others states={dnsStates} healthy="up" />
          <li>
            <Link href="/dns?verdict=denied">
              <span className="big">{perMin(rates.refusals)}</span> refused
            </Link>
          </li>
          <li>
            <span className="big">{perMin(rates.timeouts)}</span> datapath timeouts
          </li>
          <li className="muted">over the last {dns.minutes} min</li>
        </ul>
      </div>
      <div className="tile" data-testid="egress-tile">
        <h2>Egress gateways</h2>
        {egress.policies.length === 0 ? (
          <p className="muted">No egress gateway policies.</p>
        ) : (
          <ul className="stat-list">
            <li>
              <Link href="/egress">
                <span className="big">{egressStates.filter((s) => s === "forwarding").length}</span>{" "}
                <StatusBadge tone="ok" label={`forwarding of ${egress.policies.length} policies`} />
              </Link>
            </li>
            <Others states={egressStates} healthy="forwarding" />
            {egress.policies
              .filter((p) => p.state !== "forwarding")
              .slice(0, 3)
              .map((p) => (
                <li key={p.name} className="muted">
                  {p.name}: {p.state}
                </li>
              ))}
          </ul>
        )}
      </div>
      <div className="tile" data-testid="srv6-tile">
        <h2>SRv6 VPN sites</h2>
        {srv6.vrfs.length === 0 ? (
          <p className="muted">No VRFs.</p>
        ) : (
          <ul className="stat-list">
            <li>
              <Link href="/srv6">
                <span className="big">{vrfStates.filter((s) => s === "reachable").length}</span>{" "}
                <StatusBadge tone="ok" label={`VRFs reachable of ${srv6.vrfs.length}`} />
              </Link>
            </li>
            <Others states={vrfStates} healthy="reachable" />
            <li>
              <span className="big">{sites.size}</span> remote prefixes in the datapath
            </li>
            <li>
              {srv6.encapsulated.toLocaleString()} encapsulated · {srv6.decapsulated.toLocaleString()}{" "}
              decapsulated ·{" "}
              <StatusBadge
                tone={srv6.drops ? "bad" : "ok"}
                label={`${srv6.drops.toLocaleString()} dropped`}
              />
            </li>
            {srv6.vrfs.map((v) => (
              <li key={v.name} className="muted">
                <StatusBadge tone={toneOfState(v.state)} label={v.name} /> {v.state}
                {v.state === "reachable" ? `, ${v.importedRoutes} imported, ${v.staticRoutes} static` : ""}
              </li>
            ))}
          </ul>
        )}
      </div>
    </>
  );
}
