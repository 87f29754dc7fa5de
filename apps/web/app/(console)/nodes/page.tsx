import Link from "next/link";
import { PageHeader, Pager, pageOffset } from "@/components/page-header";
import { StatusBadge, toneOfHealth } from "@/components/status";
import { HEALTH_LABEL, type NodeHealth, nodeHealth } from "@/lib/node-health";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";
const LIMIT = 50;

export default async function NodesPage({
  searchParams,
}: {
  searchParams: Promise<{ health?: string; q?: string; offset?: string }>;
}) {
  await requireUser();
  const params = await searchParams;
  const offset = pageOffset(params.offset);
  const api = await serverCaller();
  const status = await api.status.overview();
  const q = params.q?.trim().toLowerCase() ?? "";
  const rows = status.nodes
    .map((n) => ({ ...n, health: nodeHealth(n) }))
    .filter((n) => (!params.health || n.health === params.health) && (!q || n.name.includes(q)));
  const page = rows.slice(offset, offset + LIMIT);
  return (
    <>
      <PageHeader title="Nodes" />
      <form className="filters" aria-label="Filter nodes">
        <label htmlFor="q">Name contains</label>
        <input id="q" name="q" defaultValue={params.q ?? ""} />
        <label htmlFor="health">Health</label>
        <select id="health" name="health" defaultValue={params.health ?? ""}>
          <option value="">any</option>
          {(Object.keys(HEALTH_LABEL) as NodeHealth[]).map((h) => (
            <option key={h} value={h}>
              {HEALTH_LABEL[h]}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
      </form>
      <p className="muted">Current revision {status.currentRevision}</p>
      <table className="grid">
        <caption className="sr-only">Nodes and their agents</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Health</th>
            <th scope="col">Agent</th>
            <th scope="col">Applied / desired</th>
            <th scope="col">Components</th>
            <th scope="col">Last heard</th>
          </tr>
        </thead>
        <tbody>
          {page.length === 0 ? (
            <tr>
              <td colSpan={6} className="muted">
                No nodes match. Nodes appear when an agent joins with a join token (Admin → Join tokens).
              </td>
            </tr>
          ) : null}
          {page.map((n) => (
            <tr key={n.name}>
              <th scope="row">
                <Link href={`/nodes/${encodeURIComponent(n.name)}`}>{n.name}</Link>
              </th>
              <td>
                <StatusBadge tone={toneOfHealth(n.health)} label={HEALTH_LABEL[n.health]} />
              </td>
              <td>{n.agentVersion ?? "—"}</td>
              <td>
                {n.appliedRevision ?? "—"} / {status.currentRevision}
              </td>
              <td>
                {n.components.length === 0
                  ? "—"
                  : n.components.map((c) => (
                      <StatusBadge
                        key={c.component}
                        tone={toneOfHealth(c.state)}
                        label={c.component}
                        title={`${c.component}: ${c.state}${c.message ? ` — ${c.message}` : ""}`}
                      />
                    ))}
              </td>
              <td>{n.lastHeartbeatAt ? n.lastHeartbeatAt.toISOString().slice(11, 19) : "never"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager
        basePath="/nodes"
        params={{ health: params.health, q: params.q }}
        offset={offset}
        limit={LIMIT}
        total={rows.length}
      />
    </>
  );
}
