import Link from "next/link";
import { notFound } from "next/navigation";
import { ResourceEditor } from "@/components/resource-editor";
import { isKind, KINDS } from "@/lib/kinds";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function NewObjectPage({ params }: { params: Promise<{ kind: string }> }) {
  const me = await requireUser();
  const { kind } = await params;
  if (!isKind(kind)) notFound();
  const def = KINDS[kind];
  return (
    <>
      <p>
        <Link href={def.listHref}>← Back</Link>
      </p>
      <h1>New {def.label}</h1>
      {me.canEdit ? (
        <ResourceEditor kind={kind} initial={null} canEdit />
      ) : (
        <p className="form-error" role="alert">
          You have the viewer role and cannot create objects.
        </p>
      )}
    </>
  );
}
