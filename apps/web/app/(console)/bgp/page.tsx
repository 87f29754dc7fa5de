import Link from "next/link";
import { FilterForm, GridTable } from "@/components/grid";
import { ObjectTable, sel, specOf } from "@/components/object-table";
import { PageHeader, Pager, pageOffset } from "@/components/page-header";
import { StatusBadge, toneOfHealth } from "@/components/status";
import { bgpSessions, duration } from "@/lib/bgp-status";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

// Configured BGP beside what the agents report: each peer's session on each node, its uptime,
// prefixes and last error in the agent's words. The page re-renders on every status report.
const LIMIT = 100;

export default async function BgpPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; offset?: string }>;
}) {
  const me = await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const [instances, peers, ads, status] = await Promise.all([
    api.bgp.instances.list({ limit: 200 }),
    api.bgp.peers.list({ limit: LIMIT, offset, search: params.q || undefined }),
    api.bgp.advertisements.list({ limit: 200 }),
    api.status.overview(),
  ]);
  const sessions = bgpSessions(status.nodes);
  return (
    <>
      <PageHeader title="BGP">
        <a
          href="/api/export?kind=BgpInstance&kind=BgpPeer&kind=BgpAdvertisement"
          className="button secondary"
        >
          Export YAML
        </a>
        {me.canEdit ? (
          <Link href="/import" className="button secondary">
            Import YAML
          </Link>
        ) : null}
      </PageHeader>
      <section aria-labelledby="h-peers" className="section">
        <div className="section-header">
          <h2 id="h-peers">
            Peers <span className="muted">({peers.total})</span>
          </h2>
          {me.canEdit ? (
            <Link href="/objects/bgp-peers/new" className="button secondary">
              New peer
            </Link>
          ) : null}
        </div>
        <FilterForm
          label="Filter peers"
          fields={[{ name: "q", label: "Peer name contains", value: params.q }]}
        />
        <GridTable
          columns={[
            "Peer",
            "Instance",
            "Address",
            "ASN",
            "Session (per node)",
            "Uptime",
            "Prefixes rx / tx",
            "Last error",
          ]}
          empty={peers.items.length === 0 && "No peers configured."}
          testId="bgp-peers"
        >
          {peers.items.map((p) => {
            const s = p.spec as { instance: string; address: string; peerASN: number };
            const mine = sessions.filter((x) => x.peer === s.address || x.peer === p.name);
            return (
              <tr key={p.id} data-peer={p.name}>
                <th scope="row">
                  <Link href={`/objects/bgp-peers/${p.id}`}>{p.name}</Link>
                  {p.enabled ? null : <span className="muted"> (disabled)</span>}
                </th>
                <td>{s.instance}</td>
                <td>
                  <code>{s.address}</code>
                </td>
                <td>{s.peerASN}</td>
                <td data-testid="session-state">
                  {mine.length === 0 ? (
                    <StatusBadge tone="unknown" label="no agent report" />
                  ) : (
                    mine.map((m) => (
                      <div key={m.node}>
                        <StatusBadge tone={toneOfHealth(m.state)} label={`${m.state} on ${m.node}`} />
                      </div>
                    ))
                  )}
                </td>
                <td>
                  {mine.map((m) => (
                    <div key={m.node}>{duration(m.uptimeSeconds)}</div>
                  ))}
                </td>
                <td>
                  {mine.map((m) => (
                    <div key={m.node}>
                      {m.prefixesReceived ?? "—"} / {m.prefixesAdvertised ?? "—"}
                    </div>
                  ))}
                </td>
                <td>
                  {mine.map((m) => (
                    <div key={m.node}>{m.lastError ?? "—"}</div>
                  ))}
                </td>
              </tr>
            );
          })}
        </GridTable>
        <Pager basePath="/bgp" params={{ q: params.q }} offset={offset} limit={LIMIT} total={peers.total} />
      </section>
      <ObjectTable
        title="Instances"
        kind="bgp-instances"
        rows={instances.items}
        total={instances.total}
        canEdit={me.canEdit}
        columns={[
          { header: "Local ASN", cell: (r) => String(specOf(r).localASN) },
          { header: "Nodes", cell: (r) => sel(specOf(r).nodeSelector) },
        ]}
      />
      <ObjectTable
        title="Advertisements"
        kind="bgp-advertisements"
        rows={ads.items}
        total={ads.total}
        canEdit={me.canEdit}
        columns={[
          { header: "Type", cell: (r) => String(specOf(r).type) },
          {
            header: "Communities",
            cell: (r) => ((specOf(r).communities as string[]) ?? []).join(", ") || "—",
          },
        ]}
      />
    </>
  );
}
