import Link from "next/link";
import { notFound } from "next/navigation";
import { ResourceEditor } from "@/components/resource-editor";
import { isKind, KINDS } from "@/lib/kinds";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

type Getter = { get(i: { id: string }): Promise<Record<string, unknown>> };

export default async function ObjectPage({
  params,
  searchParams,
}: {
  params: Promise<{ kind: string; id: string }>;
  searchParams: Promise<{ created?: string }>;
}) {
  const me = await requireUser();
  const { kind, id } = await params;
  const sp = await searchParams;
  if (!isKind(kind)) notFound();
  const def = KINDS[kind];
  const api = (await serverCaller()) as unknown as Record<string, Record<string, Getter>>;
  const router = (def.api.length === 2 ? api[def.api[0]]![def.api[1]] : api[def.api[0]]) as unknown as Getter;
  const row = await router.get({ id }).catch(() => null);
  if (!row) notFound();
  const { hasPassword: _h, ...spec } = row.spec as Record<string, unknown>;
  return (
    <>
      <p>
        <Link href={def.listHref}>← Back</Link>
      </p>
      <h1>
        {def.label} {String(row.name)}
      </h1>
      <p className="muted">
        Version {String(row.version)}, last changed by {String(row.updatedBy)} ·{" "}
        <Link href={`/audit?entityId=${id}`}>history</Link>
        {_h ? " · an MD5 password is set" : ""}
      </p>
      {sp.created ? (
        <p className="banner banner-ok" role="status">
          <span aria-hidden="true">● </span>Created in revision {sp.created}.
        </p>
      ) : null}
      <ResourceEditor
        key={id}
        kind={kind}
        canEdit={me.canEdit}
        initial={{
          id,
          name: String(row.name),
          enabled: Boolean(row.enabled),
          description: String(row.description ?? ""),
          spec,
          version: Number(row.version),
        }}
      />
    </>
  );
}
