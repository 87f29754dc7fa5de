import Link from "next/link";
import { FilterForm, GridTable } from "@/components/grid";
import { PageHeader, Pager, pageOffset } from "@/components/page-header";
import { StatusBadge } from "@/components/status";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";
const LIMIT = 50;

type Rule = { toFQDNs?: unknown[] };

export default async function PoliciesPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; namespace?: string; offset?: string; deleted?: string }>;
}) {
  const me = await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const list = await api.policies.list({
    search: params.q || undefined,
    namespace: params.namespace === undefined || params.namespace === "*" ? undefined : params.namespace,
    limit: LIMIT,
    offset,
  });
  return (
    <>
      <PageHeader title="Network policies">
        <Link href="/policies/what-if" className="button secondary">
          What-if
        </Link>
        <a href="/api/export?kind=NetworkPolicy" className="button secondary">
          Export YAML
        </a>
        {me.canEdit ? (
          <>
            <Link href="/import" className="button secondary">
              Import YAML
            </Link>
            <Link href="/policies/new" className="button">
              New policy
            </Link>
          </>
        ) : null}
      </PageHeader>
      {params.deleted ? (
        <p className="banner banner-ok" role="status">
          <span aria-hidden="true">● </span>Deleted {params.deleted}.
        </p>
      ) : null}
      <FilterForm label="Filter policies" fields={[{ name: "q", label: "Name contains", value: params.q }]} />
      <GridTable
        columns={["Policy", "Namespace", "State", "Selects", "Rules", "Last change"]}
        empty={list.items.length === 0 && "No policies yet."}
        caption="Network policies"
      >
        {list.items.map((p) => {
          const s = p.spec as {
            endpointSelector?: { matchLabels?: Record<string, string> };
            ingress?: Rule[];
            egress?: Rule[];
            ingressDeny?: Rule[];
            egressDeny?: Rule[];
          };
          const fqdn = (s.egress ?? []).some((r) => r.toFQDNs?.length);
          return (
            <tr key={p.id}>
              <th scope="row">
                <Link href={`/policies/${p.id}`}>{p.name}</Link>
              </th>
              <td>{p.namespace ? String(p.namespace) : <span className="muted">cluster-wide</span>}</td>
              <td>
                {p.enabled ? (
                  <StatusBadge tone="ok" label="enabled" />
                ) : (
                  <StatusBadge tone="unknown" label="disabled" />
                )}
              </td>
              <td>
                {Object.entries(s.endpointSelector?.matchLabels ?? {}).map(([k, v]) => (
                  <code key={k} className="label">
                    {k}={v}
                  </code>
                ))}
              </td>
              <td>
                {s.ingress?.length ?? 0} in · {s.egress?.length ?? 0} out
                {(s.ingressDeny?.length ?? 0) + (s.egressDeny?.length ?? 0) ? " · deny" : ""}
                {fqdn ? " · FQDN" : ""}
              </td>
              <td>
                v{p.version} by {p.updatedBy}
              </td>
            </tr>
          );
        })}
      </GridTable>
      <Pager basePath="/policies" params={{ q: params.q }} offset={offset} limit={LIMIT} total={list.total} />
    </>
  );
}
