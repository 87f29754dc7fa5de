// One BGP session as its agent reports it: what a network engineer reads off `show bgp neighbor`
// — state, uptime, flaps, the last error in words, per-family counters, and the negotiated
// capabilities and timers beside the configured ones.
import { GridTable } from "@/components/grid";
import { StatusBadge, toneOfHealth } from "@/components/status";
import { duration, type SessionDetail, type SessionReport } from "@/lib/bgp-status";
import { count, FAMILY_LABEL } from "@/lib/looking-glass";

const n = (v: number | null) => (v === null ? "—" : count(v));
const yesNo = (v: boolean | null) => (v === null ? "—" : v ? "yes" : "no");
const families = (fs: string[]) => (fs.length ? fs.map((f) => FAMILY_LABEL[f] ?? f).join(", ") : "none");

export function BgpSessionPanel({ session, detail }: { session?: SessionReport; detail?: SessionDetail }) {
  if (!session && !detail) return null;
  const neg = detail?.negotiated;
  const conf = detail?.configured;
  const up = session?.state === "established";
  return (
    <section aria-labelledby="h-session" className="section" data-testid="bgp-session">
      <h2 id="h-session">Session</h2>
      <dl className="facts">
        <dt>State</dt>
        <dd>
          {session ? (
            <StatusBadge tone={toneOfHealth(session.state)} label={session.state} />
          ) : (
            <StatusBadge tone="unknown" label="no agent report" />
          )}
        </dd>
        <dt>Uptime</dt>
        <dd>{up ? duration(session?.uptimeSeconds ?? null) : "—"}</dd>
        <dt>Flaps</dt>
        <dd data-testid="session-flaps">{n(detail?.flaps ?? null)}</dd>
        <dt>Last error</dt>
        <dd data-testid="session-last-error">
          {detail?.lastError ? (
            <>
              {detail.lastError.words}
              {detail.lastError.at ? (
                <>
                  {" "}
                  <span className="muted">
                    at{" "}
                    <time dateTime={detail.lastError.at}>
                      {detail.lastError.at.replace("T", " ").slice(0, 19)} UTC
                    </time>
                  </span>
                </>
              ) : null}
            </>
          ) : (
            "none"
          )}
        </dd>
        <dt>Hold time</dt>
        <dd data-testid="session-hold-time">
          {neg?.holdTimeSeconds != null ? `${neg.holdTimeSeconds} s negotiated` : "not negotiated"}
          {conf?.holdTimeSeconds != null ? ` (configured ${conf.holdTimeSeconds} s)` : ""}
          {neg?.keepaliveSeconds != null ? `, keepalive ${neg.keepaliveSeconds} s` : ""}
        </dd>
        <dt>Families</dt>
        <dd data-testid="session-families">
          {neg ? `${families(neg.families)} negotiated` : "not negotiated"}
          {conf ? ` (configured ${families(conf.families)})` : ""}
        </dd>
        <dt>Capabilities</dt>
        <dd data-testid="session-capabilities">
          {neg ? (
            <ul className="inline-list">
              <li>4-octet AS: {yesNo(neg.fourOctetAsn)}</li>
              <li>route refresh: {yesNo(neg.routeRefresh)}</li>
              <li>graceful restart: {yesNo(neg.gracefulRestart)}</li>
              <li>extended next hop: {neg.extendedNextHop.length ? families(neg.extendedNextHop) : "no"}</li>
            </ul>
          ) : (
            "—"
          )}
        </dd>
        <dt>Router ID / local address</dt>
        <dd>
          {neg?.peerRouterID ?? "—"} / {neg?.localAddress ?? "—"}
        </dd>
        <dt>TCP-MD5</dt>
        <dd>{conf?.md5 === null || conf?.md5 === undefined ? "—" : conf.md5 ? "on" : "off"}</dd>
        <dt>Into the kernel</dt>
        <dd data-testid="session-kernel">
          {detail?.installRoutes
            ? `yes, ${n(detail.routesInstalled)} routes installed`
            : "no (looking glass only)"}
        </dd>
      </dl>
      {detail?.families.length ? (
        <GridTable
          columns={["Family", "Received", "Accepted", "Advertised"]}
          caption="Prefixes per address family"
          testId="session-prefixes"
        >
          {detail.families.map((f) => (
            <tr key={f.family} data-family={f.family}>
              <th scope="row">{FAMILY_LABEL[f.family] ?? f.family}</th>
              <td>{n(f.received)}</td>
              <td>{n(f.accepted)}</td>
              <td>{n(f.advertised)}</td>
            </tr>
          ))}
        </GridTable>
      ) : null}
      {detail?.problems.length ? (
        <div className="banner banner-warn" role="note">
          <ul>
            {detail.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
