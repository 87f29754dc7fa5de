import Link from "next/link";
import { FilterForm } from "@/components/grid";
import { PolicyList } from "@/components/lists";
import { PageHeader, pageOffset } from "@/components/page-header";
import { LIST_PAGE, pageStart, policyRows } from "@/server/lists";
import { requireUser } from "@/server/session";
import { loadPolicies } from "../list-actions";

export const dynamic = "force-dynamic";

export default async function PoliciesPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; namespace?: string; offset?: string; deleted?: string }>;
}) {
  const me = await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const filter = {
    q: params.q,
    ...(params.namespace === undefined ? {} : { namespace: params.namespace }),
  };
  const start = pageStart(offset);
  const first = await policyRows(filter, start, LIST_PAGE);
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
      <PolicyList
        total={first.total}
        initial={{ offset: start, rows: first.rows }}
        pageSize={LIST_PAGE}
        load={loadPolicies.bind(null, filter)}
        startIndex={offset}
      />
    </>
  );
}
