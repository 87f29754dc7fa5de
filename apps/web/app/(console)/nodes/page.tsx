import { NodeList } from "@/components/lists";
import { PageHeader, pageOffset } from "@/components/page-header";
import { HEALTH_LABEL, type NodeHealth } from "@/lib/node-health";
import { LIST_PAGE, nodeRows, pageStart } from "@/server/lists";
import { requireUser } from "@/server/session";
import { loadNodes } from "../list-actions";

export const dynamic = "force-dynamic";

export default async function NodesPage({
  searchParams,
}: {
  searchParams: Promise<{ health?: string; q?: string; offset?: string }>;
}) {
  await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const filter = { q: params.q, health: params.health };
  const start = pageStart(offset);
  const first = await nodeRows(filter, start, LIST_PAGE);
  return (
    <>
      <PageHeader title="Nodes" />
      <form className="filters" aria-label="Filter nodes">
        <label htmlFor="q">Name contains</label>
        <input id="q" name="q" defaultValue={params.q ?? ""} />
        <label htmlFor="health">Health</label>
        <select id="health" name="health" defaultValue={params.health ?? ""}>
          <option value="">any</option>
          {(Object.keys(HEALTH_LABEL) as NodeHealth[]).map((h) => (
            <option key={h} value={h}>
              {HEALTH_LABEL[h]}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
      </form>
      <p className="muted">Current revision {first.currentRevision}</p>
      <NodeList
        total={first.total}
        initial={{ offset: start, rows: first.rows }}
        pageSize={LIST_PAGE}
        load={loadNodes.bind(null, filter)}
        startIndex={offset}
      />
    </>
  );
}
