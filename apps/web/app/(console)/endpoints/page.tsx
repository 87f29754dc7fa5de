import { endpointLabels, policySelectsEndpoint } from "@meridian/api/compiler/selection";
import type { SnapshotPolicy } from "@meridian/api/compiler/snapshot";
import { normalizeLabels } from "@meridian/api/spec/labels";
import Link from "next/link";
import { FilterForm, GridTable } from "@/components/grid";
import { PageHeader, Pager, pageOffset } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { getDb } from "@/server/db";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";
const LIMIT = 50;

export default async function EndpointsPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; namespace?: string; node?: string; offset?: string }>;
}) {
  await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const list = await api.endpoints.list({
    search: params.q || undefined,
    namespace: params.namespace || undefined,
    node: params.node || undefined,
    limit: LIMIT,
    offset,
  });
  // Which policies select each endpoint: the compiler's own selection rule, over the namespaces
  // on this page only.
  const namespaces = [...new Set(list.items.map((e) => e.namespace))];
  const rows = await getDb().networkPolicy.findMany({
    where: { OR: [{ namespace: "" }, { namespace: { in: namespaces } }] },
    select: { id: true, name: true, namespace: true, enabled: true, version: true, spec: true },
  });
  const policies = rows.map((p) => ({ ...p, namespace: p.namespace === "" ? null : p.namespace }));
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
      <GridTable
        columns={["Endpoint", "Node", "IPs", "Identity", "Labels", "Selected by"]}
        empty={list.items.length === 0 && "No endpoints match. Agents report the pods on their node."}
        caption="Endpoints (pods)"
      >
        {list.items.map((e) => {
          const snapEp = {
            id: e.id,
            node: e.node,
            namespace: e.namespace,
            name: e.name,
            labels: e.labels,
            identity: e.identityNumber,
          };
          const labels = normalizeLabels(endpointLabels(snapEp));
          const selecting = policies.filter((p) =>
            policySelectsEndpoint(p as unknown as SnapshotPolicy, snapEp, labels),
          );
          return (
            <tr key={e.id}>
              <th scope="row">
                {e.namespace}/{e.name}
              </th>
              <td>
                <Link href={`/nodes/${encodeURIComponent(e.node)}`}>{e.node}</Link>
              </td>
              <td>{[e.ipv4, e.ipv6].filter(Boolean).join(", ") || "—"}</td>
              <td>{e.identityNumber}</td>
              <td>
                {Object.entries(e.labels).map(([k, v]) => (
                  <code key={k} className="label">
                    {k}={v}
                  </code>
                ))}
              </td>
              <td>
                {selecting.length === 0 ? (
                  <span className="muted">no policy</span>
                ) : (
                  selecting.map((p) => (
                    <Link key={p.id} href={`/policies/${p.id}`} className="chip">
                      {p.namespace ? `${p.namespace}/` : ""}
                      {p.name}
                    </Link>
                  ))
                )}
              </td>
            </tr>
          );
        })}
      </GridTable>
      <Pager
        basePath="/endpoints"
        params={{ q: params.q, namespace: params.namespace, node: params.node }}
        offset={offset}
        limit={LIMIT}
        total={list.total}
      />
    </>
  );
}
