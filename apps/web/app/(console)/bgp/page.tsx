import Link from "next/link";
import { FilterForm } from "@/components/grid";
import { PeerList } from "@/components/lists";
import { ObjectTable, sel, specOf } from "@/components/object-table";
import { PageHeader, pageOffset } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { LIST_PAGE, pageStart, peerRows } from "@/server/lists";
import { requireUser } from "@/server/session";
import { loadPeers } from "../list-actions";

export const dynamic = "force-dynamic";

// Configured BGP beside what the agents report: each peer's session on each node, its uptime,
// prefixes and last error in the agent's words. The page re-renders on every status report.
// The peer list can run to thousands of rows, so it comes last and the page scrolls through it.

export default async function BgpPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; offset?: string }>;
}) {
  const me = await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const filter = { q: params.q };
  const start = pageStart(offset);
  const [instances, peers, ads] = await Promise.all([
    api.bgp.instances.list({ limit: 200 }),
    peerRows(filter, start, LIST_PAGE),
    api.bgp.advertisements.list({ limit: 200 }),
  ]);
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
        <PeerList
          total={peers.total}
          initial={{ offset: start, rows: peers.rows }}
          pageSize={LIST_PAGE}
          load={loadPeers.bind(null, filter)}
          startIndex={offset}
        />
      </section>
    </>
  );
}
