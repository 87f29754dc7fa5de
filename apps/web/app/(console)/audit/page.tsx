import { DiffView } from "@/components/diff-view";
import { RevisionList } from "@/components/lists";
import { PageHeader, pageOffset } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { LIST_PAGE, pageStart, revisionRows } from "@/server/lists";
import { requireUser } from "@/server/session";
import { loadRevisions } from "../list-actions";

export const dynamic = "force-dynamic";

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<{ offset?: string; author?: string; entityId?: string; from?: string; to?: string }>;
}) {
  await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const filter = { author: params.author, entityId: params.entityId };
  const start = pageStart(offset);
  const list = await revisionRows(filter, start, LIST_PAGE);
  const from = params.from !== undefined ? Number(params.from) : undefined;
  const to = params.to !== undefined ? Number(params.to) : undefined;
  const diff =
    from !== undefined && to !== undefined && Number.isInteger(from) && Number.isInteger(to)
      ? await api.audit.diff({ from, to }).catch((e: Error) => e)
      : null;
  return (
    <>
      <PageHeader title="Audit & revisions" />
      <form className="filters" aria-label="Diff two revisions">
        <label htmlFor="from">Diff from revision</label>
        <input
          id="from"
          name="from"
          type="number"
          min={0}
          defaultValue={params.from ?? Math.max(0, list.current - 1)}
        />
        <label htmlFor="to">to</label>
        <input id="to" name="to" type="number" min={0} defaultValue={params.to ?? list.current} />
        <button type="submit">Show diff</button>
      </form>
      {diff instanceof Error ? (
        <p className="form-error" role="alert">
          {diff.message}
        </p>
      ) : diff ? (
        <section aria-label="Diff" className="section">
          <h2>
            Revision {diff.from} → {diff.to}
          </h2>
          <DiffView changes={diff.changes} />
        </section>
      ) : null}
      <form className="filters" aria-label="Filter revisions">
        <label htmlFor="author">Author contains</label>
        <input id="author" name="author" defaultValue={params.author ?? ""} />
        <button type="submit">Filter</button>
      </form>
      <RevisionList
        total={list.total}
        initial={{ offset: start, rows: list.rows }}
        pageSize={LIST_PAGE}
        load={loadRevisions.bind(null, filter)}
        startIndex={offset}
      />
    </>
  );
}
