import Link from "next/link";
import { ObjectTable, sel, specOf } from "@/components/object-table";
import { PageHeader } from "@/components/page-header";
import { StatusBadge, type Tone } from "@/components/status";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

const STATE_TONE: Record<string, Tone> = {
  forwarding: "ok",
  degraded: "warn",
  dropping: "bad",
  "not reported": "unknown",
  disabled: "unknown",
};

const MODE_WORDS: Record<string, string> = {
  steer: "steers to the gateway",
  snat: "translates to the egress IP",
  drop: "drops (no gateway)",
};

// Egress gateway: the policies as stored (intent), then what each node's egress datapath reports
// for them (live: role, what it does with new connections, gateway, egress IP, pods, translations).
// A node with no egress datapath is named: a stored policy is not taken for an enforced one.
// Failover: per policy, the gateway the nodes use for new connections (the first healthy one of the
// control plane's order, chosen by the agents from their own probes), each gateway's health as the
// nodes see it, and the last failover a node reported with how long the switch took.
export default async function EgressPage() {
  const me = await requireUser();
  const api = await serverCaller();
  const [list, live] = await Promise.all([api.egress.list({ limit: 200 }), api.egress.live()]);
  const stateOf = new Map(live.policies.map((p) => [p.id, p]));
  return (
    <>
      <PageHeader title="Egress gateway">
        <a href="/api/export?kind=EgressGatewayPolicy" className="button secondary">
          Export YAML
        </a>
      </PageHeader>
      {live.nodesWithDatapath.length === 0 ? (
        <div className="banner banner-warn" role="note" data-testid="egress-not-enforced">
          Not enforced: no node reports an egress datapath, so these policies are stored and compiled but no
          traffic is steered or translated — selected pods leave with their own address.
        </div>
      ) : live.nodesWithout.length > 0 ? (
        <div className="banner banner-warn" role="note" data-testid="egress-partly-enforced">
          {live.nodesWithout.length === 1 ? "Node" : "Nodes"} {live.nodesWithout.join(", ")} report no egress
          datapath: pods there are not steered.
        </div>
      ) : null}
      <ObjectTable
        title="Egress gateway policies"
        kind="egress"
        rows={list.items}
        total={list.total}
        canEdit={me.canEdit}
        columns={[
          {
            header: "Sources",
            cell: (r) =>
              ((specOf(r).selectors as { podSelector?: unknown }[]) ?? [])
                .map((s) => sel(s.podSelector))
                .join("; "),
          },
          {
            header: "Destinations",
            cell: (r) => ((specOf(r).destinationCIDRs as string[]) ?? []).join(", "),
          },
          {
            header: "Gateways",
            cell: (r) =>
              (
                (specOf(r).gateways as { nodeName?: string; nodeSelector?: unknown; egressIP?: string }[]) ??
                []
              )
                .map((g) => `${g.nodeName ?? sel(g.nodeSelector)}${g.egressIP ? ` via ${g.egressIP}` : ""}`)
                .join("; "),
          },
          {
            header: "Datapath",
            cell: (r) => {
              const s = stateOf.get(r.id)?.state ?? "not reported";
              return <StatusBadge tone={STATE_TONE[s] ?? "unknown"} label={s} />;
            },
          },
        ]}
      />

      <section aria-labelledby="h-egress-failover" className="section">
        <h2 id="h-egress-failover">Gateways and failover</h2>
        <table className="grid" data-testid="egress-failover">
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Active gateway</th>
              <th scope="col">Gateways (control plane&apos;s order)</th>
              <th scope="col">Last failover</th>
            </tr>
          </thead>
          <tbody>
            {live.policies.filter((p) => p.nodes.length > 0).length === 0 ? (
              <tr>
                <td colSpan={4} className="muted">
                  No node reports taking part in any policy.
                </td>
              </tr>
            ) : null}
            {live.policies
              .filter((p) => p.nodes.length > 0)
              .map((p) => (
                <tr key={p.id} data-policy={p.name}>
                  <th scope="row">{p.name}</th>
                  <td data-testid="egress-active-gateway">
                    {p.activeGateways.length === 0
                      ? "none"
                      : p.activeGateways
                          .map((a) =>
                            p.activeGateways.length > 1
                              ? `${a.gateway} (from ${a.nodes.join(", ")})`
                              : a.gateway,
                          )
                          .join("; ")}
                    {p.intendedGateway && p.activeGateways.some((a) => a.gateway !== p.intendedGateway) ? (
                      <>
                        {" "}
                        <StatusBadge
                          tone="warn"
                          label={`failed over from ${p.intendedGateway}`}
                          title="the control plane's first gateway is down as the nodes see it"
                        />
                      </>
                    ) : null}
                  </td>
                  <td>
                    {p.gatewayHealth.length === 0
                      ? "—"
                      : p.gatewayHealth.map((g, i) => (
                          <span key={g.node} data-gateway={g.node}>
                            {i > 0 ? ", " : ""}
                            {g.node}{" "}
                            <StatusBadge
                              tone={g.healthy ? "ok" : "bad"}
                              label={g.healthy ? "healthy" : `down (${g.reasons.join(", ") || "unhealthy"})`}
                              title={g.healthy ? undefined : `seen down from ${g.downFrom.join(", ")}`}
                            />
                          </span>
                        ))}
                  </td>
                  <td data-testid="egress-last-failover">
                    {p.lastFailover
                      ? `${p.lastFailover.from ?? "none"} → ${p.lastFailover.to ?? "none"} at ${p.lastFailover.at} (${p.lastFailover.reason}${
                          p.lastFailover.durationMs !== null ? `, ${p.lastFailover.durationMs} ms` : ""
                        }; seen by ${p.lastFailover.node})`
                      : "never"}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="h-egress-live" className="section">
        <h2 id="h-egress-live">Live, as the nodes report it</h2>
        <table className="grid" data-testid="egress-live">
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Node</th>
              <th scope="col">Role</th>
              <th scope="col">New connections</th>
              <th scope="col">Active gateway</th>
              <th scope="col">Egress IP</th>
              <th scope="col">Local pods</th>
              <th scope="col">Translations</th>
              <th scope="col">Problems</th>
            </tr>
          </thead>
          <tbody>
            {live.policies.every((p) => p.nodes.length === 0) ? (
              <tr>
                <td colSpan={9} className="muted">
                  {live.policies.length === 0
                    ? "No egress gateway policy yet."
                    : "No node reports taking part in any policy."}
                </td>
              </tr>
            ) : null}
            {live.policies.flatMap((p) =>
              p.nodes.map((n) => (
                <tr key={`${p.id}/${n.node}`} data-policy={p.name} data-node={n.node}>
                  <th scope="row">{p.name}</th>
                  <td>
                    <Link href={`/nodes/${encodeURIComponent(n.node)}`}>{n.node}</Link>
                    {n.stale ? (
                      <>
                        {" "}
                        <StatusBadge tone="warn" label="stale" title="no heartbeat for 90 s" />
                      </>
                    ) : null}
                  </td>
                  <td>{n.role}</td>
                  <td>
                    {(["ipv4", "ipv6"] as const)
                      .filter((f) => n.mode[f] !== null)
                      .map((f) => `${f === "ipv4" ? "IPv4" : "IPv6"}: ${MODE_WORDS[n.mode[f]!] ?? n.mode[f]}`)
                      .join("; ") || "—"}
                  </td>
                  <td>{n.activeGateway ?? "none"}</td>
                  <td>{n.egressIP ?? "—"}</td>
                  <td>
                    {n.selectedLocalPods}
                    {n.missingLocalPods > 0 ? ` (${n.missingLocalPods} without an address yet)` : ""}
                  </td>
                  <td>{n.snatEntries}</td>
                  <td>{n.problems.join("; ") || "—"}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </section>
    </>
  );
}
