import { LOOKING_GLASS_ROUTE_LIMIT } from "@meridian/model";
import Link from "next/link";
import { BgpSessionPanel } from "@/components/bgp-session";
import { LookingGlassTable } from "@/components/looking-glass-table";
import { PageHeader, Pager, pageOffset } from "@/components/page-header";
import { bgpSessions, sessionDetail } from "@/lib/bgp-status";
import { agentCommand, ago, count, FAMILY_LABEL, lookingGlassHref, utc } from "@/lib/looking-glass";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

// One BGP peer's routes on one node, received or advertised, as its agent last reported them. The
// page re-renders on every status event (the layout's live stream), and agents' looking-glass
// reports wake that stream, so a route change shows up without a reload; the time of the report
// is always on screen, and a warning says when the agent has gone quiet.
const LIMIT = 100;

type Params = {
  node?: string;
  peer?: string;
  direction?: string;
  family?: string;
  prefix?: string;
  offset?: string;
};

export default async function LookingGlassPage({ searchParams }: { searchParams: Promise<Params> }) {
  await requireUser();
  const params = await searchParams;
  const node = params.node ?? "";
  const peer = params.peer ?? "";
  const direction = params.direction === "advertised" ? "advertised" : "received";
  const offset = pageOffset(params.offset);
  const prefix = params.prefix?.trim() || undefined;
  const family = params.family || undefined;

  if (!node || !peer) {
    return (
      <>
        <p>
          <Link href="/bgp">← BGP</Link>
        </p>
        <PageHeader title="BGP looking glass" />
        <p>Open a peer's routes from its session on the BGP page.</p>
      </>
    );
  }

  const api = await serverCaller();
  const [status, result] = await Promise.all([
    api.status.overview(),
    api.bgp
      .lookingGlass({
        node,
        peer,
        direction,
        family: family as never,
        prefix,
        cursor: offset,
        limit: LIMIT,
      })
      .then((lg) => ({ lg, error: null }))
      .catch((err: { code?: string; message?: string }) => ({
        lg: null,
        error: { code: err.code ?? "", message: err.message ?? "the looking glass could not be read" },
      })),
  ]);
  const { lg, error } = result;
  const nodeStatus = status.nodes.find((n) => n.name === node);
  const address = lg?.address;
  const session = bgpSessions(status.nodes).find(
    (s) => s.node === node && (s.peer === peer || (address !== undefined && s.peer === address)),
  );
  const detail = sessionDetail(status.nodes, node, [peer, ...(address ? [address] : [])]);
  const tablesOf = (d: string) => lg?.tables.filter((t) => t.direction === d) ?? [];
  const routesIn = (d: string) => tablesOf(d).reduce((n, t) => n + t.total, 0);
  const families = tablesOf(direction).map((t) => t.family);
  const base = { node, peer, direction, prefix } as const;
  const vpn = lg?.family === "vpnv4" || lg?.family === "vpnv6";

  return (
    <>
      <p>
        <Link href="/bgp">← BGP</Link>
      </p>
      <PageHeader title={`Looking glass: ${lg?.peer ?? peer} on ${node}`} />
      <dl className="facts">
        <dt>Peer</dt>
        <dd>
          {lg?.peer ?? peer}
          {address ? (
            <>
              {" "}
              <code>{address}</code>
            </>
          ) : null}
        </dd>
        <dt>Node</dt>
        <dd>
          <Link href={`/nodes/${encodeURIComponent(node)}`}>{node}</Link>
        </dd>
        <dt>Routes reported</dt>
        <dd data-testid="reported-at">
          {lg ? (
            <>
              at <time dateTime={lg.reportedAt.toISOString()}>{utc(lg.reportedAt)}</time> (
              {ago(lg.reportedAt)})
            </>
          ) : (
            "never"
          )}
        </dd>
      </dl>

      {nodeStatus?.stale && lg ? (
        <div className="banner banner-warn" role="status">
          <p>
            The agent on {node} has not been heard from since{" "}
            {nodeStatus.lastHeartbeatAt ? utc(nodeStatus.lastHeartbeatAt) : "it joined"}: these routes are as
            it last reported them and may be out of date.
          </p>
        </div>
      ) : null}

      <BgpSessionPanel session={session} detail={detail} />

      {error ? (
        error.code === "NOT_FOUND" ? (
          <div className="banner banner-warn" role="status">
            <p>
              {node} has not reported routes for {peer} yet. Agents report a peer's routes when its session
              starts and whenever they change; <code>{agentCommand(direction, peer, null)}</code> on the node
              shows them now.
            </p>
          </div>
        ) : (
          <div className="form-error" role="alert">
            <p>{error.message}</p>
          </div>
        )
      ) : null}

      {lg ? (
        <section aria-labelledby="h-routes" className="section">
          <h2 id="h-routes" className="sr-only">
            {direction === "received" ? "Received" : "Advertised"} routes
          </h2>
          <nav className="tabs" aria-label="Direction">
            {(["received", "advertised"] as const).map((d) => (
              <Link
                key={d}
                href={lookingGlassHref({ node, peer, direction: d, prefix })}
                className={`tab${d === direction ? " tab-on" : ""}`}
                aria-current={d === direction ? "page" : undefined}
              >
                {d === "received" ? "Received" : "Advertised"} ({count(routesIn(d))})
              </Link>
            ))}
          </nav>
          <form className="filters" aria-label="Filter routes" action="/bgp/looking-glass">
            <input type="hidden" name="node" value={node} />
            <input type="hidden" name="peer" value={peer} />
            {direction === "advertised" ? <input type="hidden" name="direction" value="advertised" /> : null}
            <label htmlFor="lg-family">Address family</label>
            <select id="lg-family" name="family" defaultValue={lg.family ?? ""}>
              {families.length === 0 ? <option value="">none reported</option> : null}
              {families.map((f) => (
                <option key={f} value={f}>
                  {FAMILY_LABEL[f] ?? f}
                </option>
              ))}
            </select>
            <label htmlFor="lg-prefix">Prefix contains</label>
            <input id="lg-prefix" name="prefix" defaultValue={prefix ?? ""} placeholder="10.1. or /32" />
            <button type="submit">Show</button>
          </form>

          {lg.reported < lg.total ? (
            <div className="banner banner-warn" data-testid="truncated" role="note">
              <p>
                Showing the first {count(lg.reported)} of {count(lg.total)} routes (by prefix): agents report
                at most {count(LOOKING_GLASS_ROUTE_LIMIT)} per table. The agent CLI has all of them:{" "}
                <code>{agentCommand(direction, lg.peer, lg.family)}</code> on {node}.
              </p>
            </div>
          ) : null}
          {prefix ? (
            <p className="muted" data-testid="matched">
              {count(lg.matched)} of {count(lg.reported)} reported routes contain “{prefix}”.
            </p>
          ) : null}

          <LookingGlassTable
            routes={lg.routes}
            caption={`${direction === "received" ? "Routes received from" : "Routes advertised to"} ${lg.peer} on ${node}, ${lg.family ? (FAMILY_LABEL[lg.family] ?? lg.family) : "no family"}`}
            vpn={vpn}
            advertised={direction === "advertised"}
            empty={
              prefix
                ? `No reported route contains “${prefix}”.`
                : direction === "received"
                  ? `${lg.peer} sends no routes in this family.`
                  : `Nothing is advertised to ${lg.peer} in this family.`
            }
          />
          <Pager
            basePath="/bgp/looking-glass"
            params={{
              ...base,
              family: lg.family ?? undefined,
              direction: direction === "advertised" ? direction : undefined,
            }}
            offset={offset}
            limit={LIMIT}
            total={lg.matched}
          />
        </section>
      ) : null}
    </>
  );
}
