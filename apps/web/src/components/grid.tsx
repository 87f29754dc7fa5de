// The list pages' building blocks: a grid table with its header row and "nothing here" row, and
// the GET filter form whose fields become the page's query string.
import type { ReactNode } from "react";

export function GridTable({
  columns,
  empty,
  caption,
  testId,
  className,
  children,
}: {
  columns: string[];
  /** Classes besides "grid", e.g. a table's own column styles. */
  className?: string;
  /** Shown across all columns when there are no rows; false or null when there are. */
  empty?: ReactNode;
  caption?: string;
  testId?: string;
  children: ReactNode;
}) {
  return (
    <table className={className ? `grid ${className}` : "grid"} data-testid={testId}>
      {caption ? <caption className="sr-only">{caption}</caption> : null}
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {empty ? (
          <tr>
            <td colSpan={columns.length} className="muted">
              {empty}
            </td>
          </tr>
        ) : null}
        {children}
      </tbody>
    </table>
  );
}

export function FilterForm({
  label,
  fields,
}: {
  label: string;
  fields: { name: string; label: string; value: string | undefined }[];
}) {
  return (
    <form className="filters" aria-label={label}>
      {fields.map((f) => [
        <label key={`l-${f.name}`} htmlFor={f.name}>
          {f.label}
        </label>,
        <input key={`i-${f.name}`} id={f.name} name={f.name} defaultValue={f.value ?? ""} />,
      ])}
      <button type="submit">Filter</button>
    </form>
  );
}
