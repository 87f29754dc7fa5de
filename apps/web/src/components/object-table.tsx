// A plain list of spec objects with a link to each and a "New" button for editors.
import Link from "next/link";
import type { ReactNode } from "react";
import type { KindKey } from "@/lib/kinds";
import { newLabel } from "@/lib/plural";
import { StatusBadge } from "./status";

export interface Row {
  id: string;
  name: string;
  enabled?: boolean;
  version: number;
  updatedBy: string;
  spec: unknown;
}

export function ObjectTable({
  title,
  kind,
  rows,
  total,
  canEdit,
  columns,
}: {
  title: string;
  kind: KindKey;
  rows: Row[];
  total: number;
  canEdit: boolean;
  columns: { header: string; cell: (r: Row) => ReactNode }[];
}) {
  const headingId = `h-${kind}`;
  return (
    <section aria-labelledby={headingId} className="section">
      <div className="section-header">
        <h2 id={headingId}>
          {title} <span className="muted">({total})</span>
        </h2>
        {canEdit ? (
          <Link href={`/objects/${kind}/new`} className="button secondary">
            {newLabel(title)}
          </Link>
        ) : null}
      </div>
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">Name</th>
            {columns.map((c) => (
              <th scope="col" key={c.header}>
                {c.header}
              </th>
            ))}
            <th scope="col">State</th>
            <th scope="col">Last change</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length + 3} className="muted">
                None yet.
              </td>
            </tr>
          ) : null}
          {rows.map((r) => (
            <tr key={r.id}>
              <th scope="row">
                <Link href={`/objects/${kind}/${r.id}`}>{r.name}</Link>
              </th>
              {columns.map((c) => (
                <td key={c.header}>{c.cell(r)}</td>
              ))}
              <td>
                {r.enabled === false ? (
                  <StatusBadge tone="unknown" label="disabled" />
                ) : (
                  <StatusBadge tone="ok" label="enabled" />
                )}
              </td>
              <td>
                v{r.version} by {r.updatedBy}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export const specOf = (r: Row) => r.spec as Record<string, unknown>;
export const sel = (s: unknown) =>
  Object.entries((s as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ") || "all";
