import { FilterForm } from "@/components/grid";
import { EndpointList } from "@/components/lists";
import { PageHeader, pageOffset } from "@/components/page-header";
import { endpointRows, LIST_PAGE, pageStart } from "@/server/lists";
import { requireUser } from "@/server/session";
import { loadEndpoints } from "../list-actions";

export const dynamic = "force-dynamic";

export default async function EndpointsPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; namespace?: string; node?: string; offset?: string }>;
}) {
  await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const filter = { q: params.q, namespace: params.namespace, node: params.node };
  const start = pageStart(offset);
  const first = await endpointRows(filter, start, LIST_PAGE);
  return (
    <>
      <PageHeader title="Endpoints" />
      <FilterForm
        label="Filter endpoints"
        fields={[
          { name: "q", label: "Name contains", value: params.q },
          { name: "namespace", label: "Namespace", value: params.namespace },
          { name: "node", label: "Node", value: params.node },
        ]}
      />
      <EndpointList
        total={first.total}
        initial={{ offset: start, rows: first.rows }}
        pageSize={LIST_PAGE}
        load={loadEndpoints.bind(null, filter)}
        startIndex={offset}
      />
    </>
  );
}
