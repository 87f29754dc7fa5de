import Link from "next/link";
import { PolicyEditor } from "@/components/policy-editor";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function NewPolicyPage() {
  const me = await requireUser();
  return (
    <>
      <p>
        <Link href="/policies">← Policies</Link>
      </p>
      <h1>New network policy</h1>
      {me.canEdit ? (
        <PolicyEditor initial={null} canEdit />
      ) : (
        <p className="form-error" role="alert">
          You have the viewer role and cannot create policies.
        </p>
      )}
    </>
  );
}
