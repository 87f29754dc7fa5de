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
        listed, never dropped silently.
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
