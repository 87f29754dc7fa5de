import Link from "next/link";
import { FlowFixBanner, flowFixFor } from "@/components/flow-fix";
import { PolicyEditor } from "@/components/policy-editor";
import type { Spec } from "@/lib/policy-form";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function NewPolicyPage({ searchParams }: { searchParams: Promise<{ fix?: string }> }) {
  const me = await requireUser();
  const sp = await searchParams;
  const fix = sp.fix ? await flowFixFor(await serverCaller(), sp.fix, (f) => f.kind === "new") : null;
  const draft = fix?.found
    ? { name: fix.found.name, namespace: fix.found.namespace, spec: fix.found.spec as Spec }
    : undefined;
  return (
    <>
      <p>
        <Link href="/policies">← Policies</Link>
      </p>
      <h1>New network policy</h1>
      <FlowFixBanner fix={fix} />
      {me.canEdit ? (
        <PolicyEditor initial={null} canEdit {...(draft ? { draft } : {})} />
      ) : (
        <p className="form-error" role="alert">
          You have the viewer role and cannot create policies.
        </p>
      )}
    </>
  );
}
