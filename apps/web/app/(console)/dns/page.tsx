import Link from "next/link";
import { PageHeader } from "@/components/page-header";
import { StatusBadge, toneOfHealth } from "@/components/status";
import { dnsVerdictTone, ttlLeft } from "@/lib/dns";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

const VERDICTS = ["allowed", "denied", "malformed", "error"] as const;
type Verdict = (typeof VERDICTS)[number];

// FQDN policy: what the policies say (DNS rules and toFQDNs) beside what each node's DNS proxy
// does with it — its health, the addresses it has opened with their TTL, and the queries it
// answered or refused. Everything here is as the agents last reported it.
export default async function DnsPage({
  searchParams,
}: {
  searchParams: Promise<{ pod?: string; name?: string; verdict?: string }>;
}) {
  await requireUser();
  const sp = await searchParams;
  const verdict = VERDICTS.includes(sp.verdict as Verdict) ? (sp.verdict as Verdict) : undefined;
  const api = await serverCaller();
  const o = await api.dns.overview({
    verdict,
    name: sp.name?.trim() || undefined,
    endpoint: sp.pod?.trim() || undefined,
    limit: 100,
  });
  const learned = o.nodes.flatMap((n) => n.learned.map((e) => ({ ...e, node: n.name })));
  return (
    <>
      <PageHeader title="DNS" />
      <p className="muted">
        Pods that a policy with DNS rules selects have their DNS intercepted by their node&apos;s proxy: a
        name no DNS rule allows is answered REFUSED and never forwarded; the addresses of an allowed answer
        that match a toFQDNs selector are opened for that pod before the answer reaches it, until their TTL
        passes and no connection uses them.
      </p>

      <h2>Proxies</h2>
      <table className="grid" data-testid="dns-proxies">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Proxy</th>
            <th scope="col">Allowed</th>
            <th scope="col">Refused</th>
            <th scope="col">Datapath timeouts</th>
            <th scope="col">Upstream failures</th>
            <th scope="col">Learned</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {o.nodes.length === 0 ? (
            <tr>
              <td colSpan={8} className="muted">
                No node has joined yet.
              </td>
            </tr>
          ) : null}
          {o.nodes.map((n) => (
            <tr key={n.name}>
              <td>
                <Link href={`/nodes/${encodeURIComponent(n.name)}`}>{n.name}</Link>
              </td>
              <td>
                <StatusBadge
                  tone={n.stale ? "unknown" : toneOfHealth(n.state)}
                  label={n.stale ? `${n.state} (node not heard from)` : n.state}
                />
              </td>
              <td>{n.stats?.allowed ?? "—"}</td>
              <td>{n.stats?.denied ?? "—"}</td>
              <td>{n.stats?.datapathTimeouts ?? "—"}</td>
              <td>{n.stats?.upstreamFailures ?? "—"}</td>
              <td>{n.learnedTotal}</td>
              <td>{n.message}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Rules</h2>
      <table className="grid" data-testid="dns-rules">
        <thead>
          <tr>
            <th scope="col">Policy</th>
            <th scope="col">Names the proxy answers (DNS rules)</th>
            <th scope="col">Names whose addresses open (toFQDNs)</th>
          </tr>
        </thead>
        <tbody>
          {o.policies.length === 0 ? (
            <tr>
              <td colSpan={3} className="muted">
                No policy has DNS rules or toFQDNs: no pod&apos;s DNS is intercepted.
              </td>
            </tr>
          ) : null}
          {o.policies.map((p) => (
            <tr key={p.id}>
              <td>
                <Link href={`/policies/${p.id}`}>
                  {p.namespace ? `${p.namespace}/` : ""}
                  {p.name}
                </Link>
                {p.enabled ? null : <span className="muted"> (disabled)</span>}
              </td>
              <td>
                {p.dnsRules.length ? (
                  p.dnsRules.join(", ")
                ) : (
                  <span className="muted">none: toFQDNs learns nothing without one</span>
                )}
              </td>
              <td>{p.fqdns.length ? p.fqdns.join(", ") : <span className="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Learned names</h2>
      <table className="grid" data-testid="dns-learned">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Pod</th>
            <th scope="col">Names</th>
            <th scope="col">Address</th>
            <th scope="col">Open for</th>
          </tr>
        </thead>
        <tbody>
          {learned.length === 0 ? (
            <tr>
              <td colSpan={5} className="muted">
                No address is open for a name right now.
              </td>
            </tr>
          ) : null}
          {learned.map((e) => (
            <tr key={`${e.node}|${e.endpoint}|${e.address}`}>
              <td>{e.node}</td>
              <td>{e.endpoint}</td>
              <td>{e.names.join(", ")}</td>
              <td>
                <code>{e.address}</code>
              </td>
              <td>{ttlLeft(e.expiresInSeconds, e.heldByConnection)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Times are as of {o.at.toLocaleTimeString("en-GB", { timeZone: "UTC" })} UTC; reload for the latest.
      </p>

      <h2>Recent queries</h2>
      <form method="get" className="filters" aria-label="Filter queries">
        <label>
          Pod <input name="pod" defaultValue={sp.pod ?? ""} placeholder="shop/client-1" />
        </label>
        <label>
          Name <input name="name" defaultValue={sp.name ?? ""} placeholder="ext1.lab" />
        </label>
        <label>
          Verdict{" "}
          <select name="verdict" defaultValue={verdict ?? ""}>
            <option value="">any</option>
            {VERDICTS.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button secondary">
          Filter
        </button>
      </form>
      <table className="grid" data-testid="dns-queries">
        <thead>
          <tr>
            <th scope="col">Time (UTC)</th>
            <th scope="col">Node</th>
            <th scope="col">Pod</th>
            <th scope="col">Name</th>
            <th scope="col">Verdict</th>
            <th scope="col">Response</th>
            <th scope="col">Rule or reason</th>
            <th scope="col">Answers</th>
          </tr>
        </thead>
        <tbody>
          {o.queries.length === 0 ? (
            <tr>
              <td colSpan={8} className="muted">
                No queries{verdict || sp.name || sp.pod ? " match the filter" : " reported yet"}.
              </td>
            </tr>
          ) : null}
          {o.queries.map((q, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: events have no id in the output; order is fixed
            <tr key={i}>
              <td>{q.at.toISOString().slice(11, 23)}</td>
              <td>{q.node}</td>
              <td>{q.endpoint ?? "—"}</td>
              <td>
                {q.qname} <span className="muted">{q.qtype}</span>
              </td>
              <td>
                <StatusBadge tone={dnsVerdictTone(q.verdict)} label={q.verdict} />
              </td>
              <td>{q.rcode}</td>
              <td>{q.rule ?? q.reason ?? "—"}</td>
              <td>{q.answers.join(", ") || "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
