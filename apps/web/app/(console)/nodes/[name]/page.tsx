import Link from "next/link";
import { notFound } from "next/navigation";
import { DropsTile } from "@/components/drops-tile";
import { StatusBadge, toneOfHealth } from "@/components/status";
import { bgpSessions } from "@/lib/bgp-status";
import { perMin, toneOfState } from "@/lib/health";
import { lookingGlassHref } from "@/lib/looking-glass";
import { HEALTH_LABEL, nodeHealth } from "@/lib/node-health";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function NodePage({ params }: { params: Promise<{ name: string }> }) {
  await requireUser();
  const { name } = await params;
  const decoded = decodeURIComponent(name);
  const api = await serverCaller();
  const [status, list] = await Promise.all([api.status.overview(), api.nodes.list({ search: decoded })]);
  const st = status.nodes.find((n) => n.name === decoded);
  const node = list.items.find((n) => n.name === decoded);
  if (!st || !node) notFound();
  const health = nodeHealth(st);
  const [endpoints, dnsHealth] = await Promise.all([
    api.endpoints.list({ node: decoded, limit: 20 }),
    api.health.dns({ node: decoded }),
  ]);
  const dns = dnsHealth.nodes[0];
  const sessions = bgpSessions([st]);
  return (
    <>
      <p>
        <Link href="/nodes">← Nodes</Link>
      </p>
      <h1>Node {node.name}</h1>
      <dl className="facts">
        <dt>Health</dt>
        <dd>
          <StatusBadge tone={toneOfHealth(health)} label={HEALTH_LABEL[health]} />
        </dd>
        <dt>Agent version</dt>
        <dd>{node.agentVersion ?? "—"}</dd>
        <dt>Desired revision</dt>
        <dd>{status.currentRevision}</dd>
        <dt>Applied revision</dt>
        <dd>
          {node.appliedRevision ?? "none yet"}
          {node.appliedRevision !== null && node.appliedRevision < status.currentRevision
            ? ` (${status.currentRevision - node.appliedRevision} behind)`
            : ""}
        </dd>
        <dt>PodCIDRs</dt>
        <dd>{node.podCIDRs.join(", ") || "—"}</dd>
        <dt>Addresses</dt>
        <dd>{node.addresses.join(", ") || "—"}</dd>
        <dt>Labels</dt>
        <dd>
          {Object.entries(node.labels).map(([k, v]) => (
            <code key={k} className="label">
              {k}={v}
            </code>
          ))}
        </dd>
        <dt>Last heard</dt>
        <dd>{node.lastHeartbeatAt ? `${node.lastHeartbeatAt.toISOString()}` : "never"}</dd>
      </dl>
      <h2>Components</h2>
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">State</th>
            <th scope="col">Message</th>
            <th scope="col">Revision</th>
            <th scope="col">Reported</th>
          </tr>
        </thead>
        <tbody>
          {st.components.length === 0 ? (
            <tr>
              <td colSpan={5} className="muted">
                The agent has not reported any component yet.
              </td>
            </tr>
          ) : null}
          {st.components.map((c) => (
            <tr key={c.component}>
              <th scope="row">{c.component}</th>
              <td>
                <StatusBadge tone={toneOfHealth(c.state)} label={c.state} />
              </td>
              <td>{c.message || "—"}</td>
              <td>{c.revision ?? "—"}</td>
              <td>{c.updatedAt.toISOString().slice(11, 19)} UTC</td>
            </tr>
          ))}
        </tbody>
      </table>
      <section aria-labelledby="h-node-health" className="section">
        <h2 id="h-node-health">DNS proxy and drops</h2>
        <div className="tiles">
          <div className="tile" data-testid="node-dns">
            <h2>DNS proxy</h2>
            {dns ? (
              <ul className="stat-list">
                <li>
                  <StatusBadge tone={toneOfState(dns.state)} label={dns.state} />{" "}
                  <span className="muted">{dns.message}</span>
                </li>
                <li>
                  <Link href="/dns?verdict=denied">
                    <span className="big">{perMin(dns.refusalsPerMinute)}</span> refused
                  </Link>
                </li>
                <li>
                  <span className="big">{perMin(dns.timeoutsPerMinute)}</span> datapath timeouts
                </li>
                <li>
                  <span className="big">{perMin(dns.queriesPerMinute)}</span> queries
                </li>
                <li className="muted">over the last {dnsHealth.minutes} min</li>
                {dns.totals ? (
                  <li className="muted">
                    Since the proxy started: {dns.totals.queries.toLocaleString()} queries,{" "}
                    {dns.totals.denied.toLocaleString()} refused,{" "}
                    {dns.totals.datapathTimeouts.toLocaleString()} datapath timeouts,{" "}
                    {dns.totals.upstreamFailures.toLocaleString()} upstream failures
                  </li>
                ) : null}
              </ul>
            ) : (
              <p className="muted">The node has not joined, so no DNS proxy reports.</p>
            )}
          </div>
          <DropsTile scope={{ node: node.name }} testId="node-drops" />
        </div>
      </section>
      {sessions.length > 0 ? (
        <section aria-labelledby="h-bgp" className="section">
          <h2 id="h-bgp">BGP peers on this node</h2>
          <table className="grid" data-testid="node-bgp-peers">
            <thead>
              <tr>
                <th scope="col">Peer</th>
                <th scope="col">Session</th>
                <th scope="col">Prefixes rx / tx</th>
                <th scope="col">Looking glass</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.peer}>
                  <th scope="row">
                    <code>{s.peer}</code>
                  </th>
                  <td>
                    <StatusBadge tone={toneOfHealth(s.state)} label={s.state} />
                  </td>
                  <td>
                    {s.prefixesReceived ?? "—"} / {s.prefixesAdvertised ?? "—"}
                  </td>
                  <td>
                    <Link
                      href={lookingGlassHref({ node: node.name, peer: s.peer })}
                      aria-label={`routes received from ${s.peer}`}
                    >
                      received
                    </Link>
                    {" · "}
                    <Link
                      href={lookingGlassHref({ node: node.name, peer: s.peer, direction: "advertised" })}
                      aria-label={`routes advertised to ${s.peer}`}
                    >
                      advertised
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      <h2>Endpoints on this node</h2>
      <p>
        <Link href={`/endpoints?node=${encodeURIComponent(node.name)}`}>
          {endpoints.total} endpoint{endpoints.total === 1 ? "" : "s"} →
        </Link>
      </p>
    </>
  );
}
