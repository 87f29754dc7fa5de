import type { Metadata } from "next";
import { NocWall } from "@/components/noc-wall";
import { Providers } from "@/lib/trpc";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Meridian NOC" };

// The wall view: no frame, no interaction, live over SSE. Sign in once on the wall's browser
// (a viewer account is enough).
export default async function NocPage() {
  await requireUser();
  return (
    <Providers>
      <NocWall />
    </Providers>
  );
}
