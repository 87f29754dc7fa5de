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
      {/* Until the egress datapath lands, "enabled" is only the stored intent: say so. */}
      <div className="banner banner-warn" role="note" data-testid="egress-not-enforced">
        Not enforced yet: these policies are validated, stored and compiled for the nodes, but no node&apos;s
        datapath steers or translates their traffic, so selected pods still leave with their own address.
        &ldquo;enabled&rdquo; below is the policy&apos;s intent.
      </div>
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
