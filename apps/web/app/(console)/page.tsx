import Link from "next/link";
import { DropsTile } from "@/components/drops-tile";
import { HealthTiles } from "@/components/health-tiles";
import { StatusBadge } from "@/components/status";
import { bgpSessions, isUp } from "@/lib/bgp-status";
import { nodeHealth } from "@/lib/node-health";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

// Health at a glance. Every number links to the page that explains it; the grid takes the tiles
// DNS proxy, egress gateway and SRv6 VPN site tiles add up what the agents report (health.overview).
export default async function OverviewPage() {
  await requireUser();
  const api = await serverCaller();
  const [status, peers, policies, revisions, features] = await Promise.all([
    api.status.overview(),
    api.bgp.peers.list({ limit: 1 }),
    api.policies.list({ limit: 1 }),
    api.audit.list({ limit: 6 }),
    api.health.overview(),
  ]);
  const health = status.nodes.map(nodeHealth);
  const count = (h: string) => health.filter((x) => x === h).length;
  const sessions = bgpSessions(status.nodes);
  const up = sessions.filter((s) => isUp(s.state)).length;
  return (
    <>
      <h1>Overview</h1>
      <p className="muted">
        Current revision <strong>{status.currentRevision}</strong> · status as of{" "}
        {status.at.toLocaleTimeString("en-GB", { timeZone: "UTC" })} UTC
      </p>
      <section className="tiles" aria-label="Health at a glance">
        <div className="tile">
          <h2>Nodes</h2>
          <ul className="stat-list">
            <li>
              <Link href="/nodes?health=in-sync" data-testid="nodes-in-sync">
                <span className="big">{count("in-sync")}</span> <StatusBadge tone="ok" label="in sync" />
              </Link>
            </li>
            <li>
              <Link href="/nodes?health=lagging">
                <span className="big">{count("lagging")}</span> <StatusBadge tone="warn" label="lagging" />
              </Link>
            </li>
            <li>
              <Link href="/nodes?health=down">
                <span className="big">{count("down")}</span> <StatusBadge tone="bad" label="down" />
              </Link>
            </li>
            {count("pending") ? (
              <li>
                <Link href="/nodes?health=pending">
                  <span className="big">{count("pending")}</span>{" "}
                  <StatusBadge tone="unknown" label="pending join" />
                </Link>
              </li>
            ) : null}
          </ul>
        </div>
        <div className="tile">
          <h2>BGP sessions</h2>
          <ul className="stat-list">
            <li>
              <Link href="/bgp">
                <span className="big">{up}</span> <StatusBadge tone="ok" label="established" />
              </Link>
            </li>
            <li>
              <Link href="/bgp">
                <span className="big">{sessions.length - up}</span> <StatusBadge tone="bad" label="not up" />
              </Link>
            </li>
            <li>
              <Link href="/bgp">
                <span className="big">{peers.total}</span> peers configured
              </Link>
            </li>
          </ul>
        </div>
        <div className="tile">
          <h2>Policies</h2>
          <ul className="stat-list">
            <li>
              <Link href="/policies">
                <span className="big">{policies.total}</span> network policies
              </Link>
            </li>
            <li>
              <Link href="/policies/what-if">Ask what-if →</Link>
            </li>
          </ul>
        </div>
        <DropsTile />
        <HealthTiles health={features} />
        <div className="tile tile-wide">
          <h2>Recent changes</h2>
          {revisions.items.length === 0 ? (
            <p className="muted">No changes yet.</p>
          ) : (
            <ol className="changes">
              {revisions.items.map((r) => (
                <li key={r.number}>
                  <Link href={`/audit/${r.number}`}>#{r.number}</Link> {r.message}{" "}
                  <span className="muted">
                    by {r.authorName} · {r.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC
                  </span>
                </li>
              ))}
            </ol>
          )}
          <Link href="/audit">All revisions →</Link>
        </div>
      </section>
    </>
  );
}
