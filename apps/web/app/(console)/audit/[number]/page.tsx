import Link from "next/link";
import { notFound } from "next/navigation";
import { DiffView } from "@/components/diff-view";
import { RestoreButton } from "@/components/restore-button";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

// One revision: what it changed, and what restoring it would change now (the confirmation shows
// the diff from the current revision back to this one before anything is written).
export default async function RevisionPage({ params }: { params: Promise<{ number: string }> }) {
  const me = await requireUser();
  const n = Number((await params).number);
  if (!Number.isInteger(n) || n < 1) notFound();
  const api = await serverCaller();
  const rev = await api.audit.get({ number: n }).catch(() => null);
  if (!rev) notFound();
  const { current } = await api.audit.list({ limit: 1 });
  const [own, restore] = await Promise.all([
    api.audit.diff({ from: n - 1, to: n }),
    n === current ? null : api.audit.diff({ from: current, to: n }),
  ]);
  return (
    <>
      <p>
        <Link href="/audit">← Audit</Link>
      </p>
      <h1>Revision {rev.number}</h1>
      <p>
        {rev.message} — by <strong>{rev.authorName}</strong> ({rev.authorKind}) at{" "}
        {rev.createdAt.toISOString().slice(0, 19).replace("T", " ")} UTC
      </p>
      <section className="section" aria-labelledby="h-own">
        <h2 id="h-own">What this revision changed</h2>
        <DiffView changes={own.changes} />
      </section>
      <section className="section" aria-labelledby="h-restore">
        <h2 id="h-restore">Restore</h2>
        {restore === null ? (
          <p className="muted">This is the current revision.</p>
        ) : (
          <>
            <p>
              Restoring makes the model as it was at revision {n}. Compared with now (revision {current}),
              that will:
            </p>
            <DiffView changes={restore.changes} />
            {/* Mounted even with nothing left to change, so the outcome of a restore stays on
                screen when the live refresh re-renders this page without differences. */}
            {me.canEdit ? <RestoreButton number={n} count={restore.changes.length} /> : null}
          </>
        )}
      </section>
    </>
  );
}
