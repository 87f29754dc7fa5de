import { TRPCError } from "@trpc/server";
import Link from "next/link";
import { notFound } from "next/navigation";
import { FlowFixBanner, flowFixFor } from "@/components/flow-fix";
import { PolicyEditor } from "@/components/policy-editor";
import { PolicyRollout } from "@/components/policy-rollout";
import type { Spec } from "@/lib/policy-form";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function PolicyPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ created?: string; imported?: string; fix?: string }>;
}) {
  const me = await requireUser();
  const { id } = await params;
  const sp = await searchParams;
  const api = await serverCaller();
  const p = await api.policies.get({ id }).catch(() => null);
  if (!p) notFound();
  // Deleted between the two reads: the page still shows what it read.
  const rollout = await api.policies.rollout({ id: p.id }).catch((err: unknown) => {
    if (err instanceof TRPCError && err.code === "NOT_FOUND") return null;
    throw err;
  });
  const fix = await flowFixFor(api, sp.fix, (f) => f.kind === "existing" && f.policyId === p.id);
  return (
    <>
      <p>
        <Link href="/policies">← Policies</Link>
      </p>
      <h1>
        Policy {p.namespace ? `${p.namespace}/` : ""}
        {p.name}
      </h1>
      <p className="muted">
        Version {p.version}, last changed by {p.updatedBy} at {p.updatedAt.toISOString().slice(0, 19)} UTC ·{" "}
        <Link href={`/audit?entityId=${p.id}`}>history</Link>
      </p>
      {sp.created || sp.imported ? (
        <p className="banner banner-ok" role="status">
          <span aria-hidden="true">● </span>
          {sp.created ? `Created in revision ${sp.created}.` : `Imported in revision ${sp.imported}.`}
        </p>
      ) : null}
      {rollout ? <PolicyRollout r={rollout} namespace={String(p.namespace ?? "")} /> : null}
      <FlowFixBanner fix={fix} />
      <PolicyEditor
        key={p.id}
        canEdit={me.canEdit}
        {...(fix?.found && me.canEdit ? { draft: { spec: fix.found.spec as Spec } } : {})}
        initial={{
          id: p.id,
          name: p.name,
          namespace: String(p.namespace ?? ""),
          description: p.description,
          enabled: p.enabled,
          spec: p.spec as Spec,
          version: p.version,
          updatedBy: p.updatedBy,
          updatedAt: p.updatedAt.toISOString(),
        }}
      />
    </>
  );
}
