// Cilium YAML download (viewer and up), through the API's cilium.export.
import { appRouter, createContext, EXPORTABLE_KINDS } from "@meridian/api";
import { TRPCError } from "@trpc/server";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

type Kind = (typeof EXPORTABLE_KINDS)[number];

export async function GET(req: Request) {
  const url = new URL(req.url);
  const kinds = url.searchParams
    .getAll("kind")
    .filter((k): k is Kind => (EXPORTABLE_KINDS as readonly string[]).includes(k));
  const caller = appRouter.createCaller(await createContext({ db: getDb(), headers: req.headers }));
  try {
    const r = await caller.cilium.export({ kinds: kinds.length ? kinds : undefined });
    const notes = r.unsupported.map((u) => `# not exported: ${u.object} ${u.field}: ${u.reason}\n`).join("");
    return new Response(notes + r.yaml, {
      headers: {
        "content-type": "application/yaml; charset=utf-8",
        "content-disposition": 'attachment; filename="meridian-cilium.yaml"',
      },
    });
  } catch (err) {
    const status = err instanceof TRPCError && err.code === "UNAUTHORIZED" ? 401 : 403;
    return new Response(err instanceof Error ? err.message : "export failed", { status });
  }
}
