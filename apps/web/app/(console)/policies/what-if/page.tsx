import Link from "next/link";
import { WhatIfPanel } from "@/components/what-if-panel";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function WhatIfPage() {
  await requireUser();
  const api = await serverCaller();
  const eps = await api.endpoints.list({ limit: 500 });
  return (
    <>
      <p>
        <Link href="/policies">← Policies</Link>
      </p>
      <h1>What-if</h1>
      <p className="muted">
        Would this flow pass? The answer comes from the same compiler that produces each node&apos;s datapath
        state.
      </p>
      <WhatIfPanel endpoints={eps.items.map((e) => `${e.namespace}/${e.name}`)} />
    </>
  );
}
