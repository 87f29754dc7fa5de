import { YamlImport } from "@/components/yaml-import";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function ImportPage() {
  const me = await requireUser();
  return (
    <>
      <h1>Import Cilium YAML</h1>
      <p className="muted">
        CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, CiliumEgressGatewayPolicy and BGP resources. The
        whole file is one revision, or nothing when any document is broken. Fields Meridian cannot enforce are
        listed, never dropped silently. A Meridian export carries each object&apos;s version (
        <code>meridian.io/version</code>): an object changed or deleted since then is a conflict that names
        who did it, and nothing is imported unless you choose to import the others. YAML without a version
        creates or replaces.
      </p>
      {me.canEdit ? (
        <YamlImport />
      ) : (
        <p className="form-error" role="alert">
          You have the viewer role and cannot import.
        </p>
      )}
    </>
  );
}
