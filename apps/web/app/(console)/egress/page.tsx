import { ObjectTable, sel, specOf } from "@/components/object-table";
import { PageHeader } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function EgressPage() {
  const me = await requireUser();
  const api = await serverCaller();
  const list = await api.egress.list({ limit: 200 });
  return (
    <>
      <PageHeader title="Egress gateway">
        <a href="/api/export?kind=EgressGatewayPolicy" className="button secondary">
          Export YAML
        </a>
      </PageHeader>
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
        ]}
      />
    </>
  );
}
