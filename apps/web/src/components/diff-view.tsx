// A revision diff as a person reads it: per object, what was added, removed or which fields
// changed from what to what. Words and symbols carry the meaning, colour only helps.
type Change = {
  entityType: string;
  entityId: string;
  entityName: string;
  change: "added" | "removed" | "modified";
  fields: { path: string; before: unknown; after: unknown }[];
};

const show = (v: unknown) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

export function DiffView({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <p className="muted">No differences.</p>;
  return (
    <ul className="diff" data-testid="diff">
      {changes.map((c) => (
        <li key={`${c.entityType}-${c.entityId}`} className={`diff-${c.change}`}>
          <p>
            <strong>
              {c.change === "added" ? "+ added" : c.change === "removed" ? "− removed" : "~ modified"}
            </strong>{" "}
            {c.entityType} <code>{c.entityName}</code>
          </p>
          {c.fields.length ? (
            <table className="grid diff-fields">
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
              <tbody>
                {c.fields.slice(0, 40).map((f) => (
                  <tr key={f.path}>
                    <td>
                      <code>{f.path}</code>
                    </td>
                    <td className="diff-before">
                      <code>{show(f.before)}</code>
                    </td>
                    <td className="diff-after">
                      <code>{show(f.after)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
