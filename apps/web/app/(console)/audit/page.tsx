import Link from "next/link";
import { DiffView } from "@/components/diff-view";
import { PageHeader, Pager, pageOffset } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";
const LIMIT = 50;

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<{ offset?: string; author?: string; entityId?: string; from?: string; to?: string }>;
}) {
  await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const list = await api.audit.list({
    limit: LIMIT,
    offset,
    author: params.author || undefined,
    entityId: params.entityId || undefined,
  });
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
      <table className="grid">
        <caption className="sr-only">Revisions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Revision</th>
            <th scope="col">When (UTC)</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Objects</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {list.items.map((r) => (
            <tr key={r.number}>
              <th scope="row">
                <Link href={`/audit/${r.number}`}>#{r.number}</Link>
              </th>
              <td>{r.createdAt.toISOString().slice(0, 19).replace("T", " ")}</td>
              <td>{r.authorName}</td>
              <td>{r.message}</td>
              <td>{r.entryCount}</td>
              <td>
                <Link href={`/audit?from=${Math.max(0, r.number - 1)}&to=${r.number}`}>diff</Link> ·{" "}
                <Link href={`/audit/${r.number}`}>restore…</Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager
        basePath="/audit"
        params={{ author: params.author, entityId: params.entityId }}
        offset={offset}
        limit={LIMIT}
        total={list.total}
      />
    </>
  );
}
