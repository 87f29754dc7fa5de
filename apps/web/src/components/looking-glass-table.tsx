// One table of a BGP peer's routes with the attributes a network engineer reads in `show bgp`:
// prefix, next hop, AS path, origin, MED, local preference, communities of all three kinds, RD and
// SRv6 SID for VPN routes, the stale flag, and why we advertise a route.
import type { LookingGlassRoute } from "@meridian/model";
import { GridTable } from "@/components/grid";
import { StatusBadge } from "@/components/status";
import { ORIGIN_LABEL } from "@/lib/looking-glass";

const none = <span className="muted">—</span>;

function list(xs: string[] | undefined) {
  if (!xs || xs.length === 0) return none;
  return xs.map((x, i) => (
    <span key={x}>
      {i > 0 ? " " : null}
      <code className="label nowrap">{x}</code>
    </span>
  ));
}

export function LookingGlassTable({
  routes,
  caption,
  vpn,
  advertised,
  empty,
}: {
  routes: LookingGlassRoute[];
  caption: string;
  /** VPN families: RD, labels and SID columns. */
  vpn: boolean;
  /** Advertised routes: the reason column. */
  advertised: boolean;
  empty: string;
}) {
  const columns = [
    "Prefix",
    ...(vpn ? ["RD"] : []),
    "Next hop",
    "AS path",
    "Origin",
    "MED",
    "LocPrf",
    "Communities",
    "Large communities",
    "Ext. communities",
    ...(vpn ? ["Label", "SRv6 SID"] : []),
    ...(advertised ? ["Why advertised"] : []),
  ];
  return (
    <GridTable
      columns={columns}
      caption={caption}
      testId="looking-glass-routes"
      className="looking-glass"
      empty={routes.length === 0 && empty}
    >
      {routes.map((r) => (
        <tr key={`${r.rd ?? ""} ${r.prefix}`} data-prefix={r.prefix}>
          <th scope="row">
            <code className="nowrap">{r.prefix}</code>
            {r.stale ? (
              <>
                {" "}
                <StatusBadge
                  tone="warn"
                  label="stale"
                  title="kept while the peer restarts (graceful restart); withdrawn unless the peer sends it again"
                />
              </>
            ) : null}
          </th>
          {vpn ? <td>{r.rd ? <code className="nowrap">{r.rd}</code> : none}</td> : null}
          <td>{r.nextHops.length ? r.nextHops.map((h) => <div key={h}>{h}</div>) : "self"}</td>
          <td>
            {r.asPath.length ? (
              <code className="nowrap">{r.asPath.join(" ")}</code>
            ) : (
              <span className="muted">(empty)</span>
            )}
          </td>
          <td>{r.origin ? ORIGIN_LABEL[r.origin] : none}</td>
          <td>{r.med ?? none}</td>
          <td>{r.localPref ?? none}</td>
          <td>{list(r.communities)}</td>
          <td>{list(r.largeCommunities)}</td>
          <td>{list(r.extendedCommunities)}</td>
          {vpn ? <td>{r.labels?.length ? r.labels.join(" ") : none}</td> : null}
          {vpn ? <td>{r.sid ? <code className="nowrap">{r.sid}</code> : none}</td> : null}
          {advertised ? <td>{r.reason ?? none}</td> : null}
        </tr>
      ))}
    </GridTable>
  );
}
