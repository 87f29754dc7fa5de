import { ObjectTable, sel, specOf } from "@/components/object-table";
import { PageHeader } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function Srv6Page() {
  const me = await requireUser();
  const api = await serverCaller();
  const [pools, vrfs, policies] = await Promise.all([
    api.srv6.locatorPools.list({ limit: 200 }),
    api.srv6.vrfs.list({ limit: 200 }),
    api.srv6.policies.list({ limit: 200 }),
  ]);
  return (
    <>
      <PageHeader title="SRv6 L3VPN" />
      <ObjectTable
        title="Locator pools"
        kind="srv6-pools"
        rows={pools.items}
        total={pools.total}
        canEdit={me.canEdit}
        columns={[
          { header: "Prefix", cell: (r) => String(specOf(r).prefix) },
          { header: "Locator length", cell: (r) => `/${String(specOf(r).locatorLength)}` },
        ]}
      />
      <ObjectTable
        title="VRFs"
        kind="srv6-vrfs"
        rows={vrfs.items}
        total={vrfs.total}
        canEdit={me.canEdit}
        columns={[
          { header: "VRF ID", cell: (r) => String(specOf(r).vrfID) },
          { header: "RD", cell: (r) => String(specOf(r).routeDistinguisher ?? "—") },
          { header: "Members", cell: (r) => sel(specOf(r).memberSelector) },
        ]}
      />
      <ObjectTable
        title="Static policies"
        kind="srv6-policies"
        rows={policies.items}
        total={policies.total}
        canEdit={me.canEdit}
        columns={[
          { header: "VRF", cell: (r) => String(specOf(r).vrf) },
          { header: "Destination", cell: (r) => String(specOf(r).destination) },
          { header: "Segments", cell: (r) => ((specOf(r).segments as string[]) ?? []).join(" → ") },
        ]}
      />
    </>
  );
}
