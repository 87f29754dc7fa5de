import type { ReactNode } from "react";

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children ? <div className="page-actions">{children}</div> : null}
    </div>
  );
}

export function Pager({
  basePath,
  params,
  offset,
  limit,
  total,
}: {
  basePath: string;
  params?: Record<string, string | undefined>;
  offset: number;
  limit: number;
  total: number;
}) {
  const href = (o: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params ?? {})) if (v) q.set(k, v);
    if (o > 0) q.set("offset", String(o));
    const s = q.toString();
    return s ? `${basePath}?${s}` : basePath;
  };
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return (
    <nav className="pager" aria-label="Pages">
      <span>
        {from}–{to} of {total.toLocaleString()}
      </span>
      {offset > 0 ? <a href={href(Math.max(0, offset - limit))}>← Previous</a> : null}
      {to < total ? <a href={href(offset + limit)}>Next →</a> : null}
    </nav>
  );
}

export function pageOffset(raw: string | undefined): number {
  const n = Number(raw ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}
