"use client";
// How each long list draws a row, on top of the shared virtual grid. The rows come from
// src/server/lists.ts; `load` is the matching server action, bound to the page's filter.
import Link from "next/link";
import { DROPS_MINUTES } from "@/lib/flows";
import { lookingGlassHref } from "@/lib/looking-glass";
import { HEALTH_LABEL } from "@/lib/node-health";
import type { EndpointRow, NodeRow, PeerRow, PolicyRow, RevisionRow } from "@/server/lists";
import { StatusBadge, toneOfHealth } from "./status";
import { VirtualGrid } from "./virtual-grid";

interface ListProps<R> {
  total: number;
  initial: { offset: number; rows: R[] };
  pageSize: number;
  load: (offset: number, limit: number) => Promise<R[]>;
  startIndex?: number;
}

const SELECTED_SHOWN = 3;

function PolicyChip({ policy }: { policy: { id: string; name: string } }) {
  return (
    <Link href={`/policies/${policy.id}`} className="chip">
      {policy.name}
    </Link>
  );
}

export function EndpointList(p: ListProps<EndpointRow>) {
  return (
    <VirtualGrid
      {...p}
      columns={[
        "Endpoint",
        "Node",
        "IPs",
        "Identity",
        `Drops, ${DROPS_MINUTES} min`,
        "Labels",
        "Selected by",
      ]}
      widths={["16%", "11%", "12%", "7%", "9%", "22%", "23%"]}
      caption="Endpoints (pods)"
      empty="No endpoints match. Agents report the pods on their node."
      estimateRowHeight={45}
      cells={(e) => (
        <>
          <th scope="row">
            {e.namespace}/{e.name}
          </th>
          <td>
            <Link href={`/nodes/${encodeURIComponent(e.node)}`}>{e.node}</Link>
          </td>
          <td>{e.ips || "—"}</td>
          <td>{e.identity}</td>
          <td data-testid={`drops-${e.namespace}-${e.name}`}>
            <Link
              href={`/flows?verdict=dropped&since=${DROPS_MINUTES}m&namespace=${encodeURIComponent(e.namespace)}&pod=${encodeURIComponent(e.name)}`}
              aria-label={`${e.drops.toLocaleString("en-GB")} packets dropped at ${e.namespace}/${e.name}`}
            >
              <StatusBadge tone={e.drops ? "bad" : "ok"} label={e.drops.toLocaleString("en-GB")} />
            </Link>
          </td>
          <td>
            {e.labels.map(([k, v]) => (
              <code key={k} className="label">
                {k}={v}
              </code>
            ))}
          </td>
          <td>
            {e.selectedBy.length === 0 ? (
              <span className="muted">no policy</span>
            ) : (
              <>
                {e.selectedBy.slice(0, SELECTED_SHOWN).map((s) => (
                  <PolicyChip key={s.id} policy={s} />
                ))}
                {e.selectedBy.length > SELECTED_SHOWN ? (
                  // Rows stay one or two lines high (what the list's scroll height is estimated
                  // from); the rest opens in place.
                  <details className="more">
                    <summary>and {e.selectedBy.length - SELECTED_SHOWN} more</summary>
                    {e.selectedBy.slice(SELECTED_SHOWN).map((s) => (
                      <PolicyChip key={s.id} policy={s} />
                    ))}
                  </details>
                ) : null}
              </>
            )}
          </td>
        </>
      )}
    />
  );
}

export function NodeList(p: ListProps<NodeRow>) {
  return (
    <VirtualGrid
      {...p}
      columns={["Node", "Health", "Agent", "Applied / desired", "Components", "Last heard"]}
      widths={["16%", "12%", "10%", "13%", "37%", "12%"]}
      caption="Nodes and their agents"
      empty="No nodes match. Nodes appear when an agent joins with a join token (Admin → Join tokens)."
      cells={(n) => (
        <>
          <th scope="row">
            <Link href={`/nodes/${encodeURIComponent(n.name)}`}>{n.name}</Link>
          </th>
          <td>
            <StatusBadge tone={toneOfHealth(n.health)} label={HEALTH_LABEL[n.health]} />
          </td>
          <td>{n.agentVersion ?? "—"}</td>
          <td>
            {n.appliedRevision ?? "—"} / {n.currentRevision}
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
          <td>{n.lastHeard}</td>
        </>
      )}
    />
  );
}

export function PolicyList(p: ListProps<PolicyRow>) {
  return (
    <VirtualGrid
      {...p}
      columns={["Policy", "Namespace", "State", "Selects", "Rules", "Last change"]}
      widths={["20%", "12%", "11%", "20%", "15%", "22%"]}
      caption="Network policies"
      empty="No policies yet."
      cells={(r) => (
        <>
          <th scope="row">
            <Link href={`/policies/${r.id}`}>{r.name}</Link>
          </th>
          <td>{r.namespace ? r.namespace : <span className="muted">cluster-wide</span>}</td>
          <td>
            {r.enabled ? (
              <StatusBadge tone="ok" label="enabled" />
            ) : (
              <StatusBadge tone="unknown" label="disabled" />
            )}
          </td>
          <td>
            {r.selects.map(([k, v]) => (
              <code key={k} className="label">
                {k}={v}
              </code>
            ))}
          </td>
          <td>{r.rules}</td>
          <td>
            v{r.version} by {r.updatedBy}
          </td>
        </>
      )}
    />
  );
}

export function PeerList(p: ListProps<PeerRow>) {
  return (
    <VirtualGrid
      {...p}
      columns={[
        "Peer",
        "Instance",
        "Address",
        "ASN",
        "Session (per node)",
        "Uptime",
        "Prefixes rx / tx",
        "Last error",
      ]}
      widths={["11%", "8%", "12%", "7%", "21%", "9%", "10%", "22%"]}
      caption="BGP peers and their sessions on each node"
      testId="bgp-peers"
      empty="No peers configured."
      rowAttrs={(r) => ({ "data-peer": r.name })}
      cells={(r) => (
        <>
          <th scope="row">
            <Link href={`/objects/bgp-peers/${r.id}`}>{r.name}</Link>
            {r.enabled ? null : <span className="muted"> (disabled)</span>}
          </th>
          <td>{r.instance}</td>
          <td>
            <code>{r.address}</code>
          </td>
          <td>{r.peerASN}</td>
          <td data-testid="session-state">
            {r.sessions.length === 0 ? (
              <StatusBadge tone="unknown" label="no agent report" />
            ) : (
              r.sessions.map((m) => (
                <div key={m.node}>
                  <StatusBadge tone={toneOfHealth(m.state)} label={`${m.state} on ${m.node}`} />{" "}
                  <Link
                    href={lookingGlassHref({ node: m.node, peer: r.name })}
                    aria-label={`${r.name} routes on ${m.node}`}
                  >
                    routes
                  </Link>
                </div>
              ))
            )}
          </td>
          <td>
            {r.sessions.map((m) => (
              <div key={m.node}>{m.uptime}</div>
            ))}
          </td>
          <td>
            {r.sessions.map((m) => (
              <div key={m.node}>
                {m.received ?? "—"} / {m.advertised ?? "—"}
              </div>
            ))}
          </td>
          <td>
            {r.sessions.map((m) => (
              <div key={m.node}>
                {m.lastError === null || m.lastError === undefined ? (
                  "—"
                ) : m.state === "established" ? (
                  // History, as a router's "last reset" is: the session is up now.
                  <span className="muted">before it came up: {m.lastError}</span>
                ) : (
                  m.lastError
                )}
              </div>
            ))}
          </td>
        </>
      )}
    />
  );
}

export function RevisionList(p: ListProps<RevisionRow>) {
  return (
    <VirtualGrid
      {...p}
      columns={["Revision", "When (UTC)", "Who", "What", "Objects", "Actions"]}
      widths={["9%", "16%", "22%", "31%", "8%", "14%"]}
      caption="Revisions, newest first"
      empty="No revisions yet."
      cells={(r) => (
        <>
          <th scope="row">
            <Link href={`/audit/${r.number}`}>#{r.number}</Link>
          </th>
          <td>{r.when}</td>
          <td>{r.who}</td>
          <td>{r.what}</td>
          <td>{r.objects}</td>
          <td>
            <Link href={`/audit?from=${Math.max(0, r.number - 1)}&to=${r.number}`}>diff</Link> ·{" "}
            <Link href={`/audit/${r.number}`}>restore…</Link>
          </td>
        </>
      )}
    />
  );
}
