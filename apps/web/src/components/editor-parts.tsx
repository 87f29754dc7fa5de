"use client";
// Pieces the policy editor and the resource editor share: the save/conflict error box, the
// saved notice, the Form/YAML tabs and the save/delete actions.
import type { CallError } from "@/lib/errors";

/** Field errors that no visible field shows (all of them in the YAML view), as "path: message". */
export function unplacedErrors(
  fe: Record<string, string[]>,
  tab: "form" | "yaml",
  shownKeys: string[],
): string[] {
  return Object.entries(fe)
    .filter(([k]) => tab === "yaml" || !shownKeys.some((s) => k === s || k.startsWith(`${s}.`)))
    .flatMap(([k, v]) => v.map((m) => `${k}: ${m}`));
}

export function FormError({
  error,
  unplaced,
  theirs,
  onReload,
  reloadLabel,
}: {
  error: CallError | null;
  unplaced: string[];
  theirs?: string[];
  onReload: () => void;
  reloadLabel: string;
}) {
  if (!error) return null;
  return (
    <div className="form-error" role="alert" data-testid="form-error">
      <p>
        <strong>{error.code === "CONFLICT" ? "Conflict: " : "Not saved: "}</strong>
        {error.message}
      </p>
      {theirs?.length ? (
        <p>
          Their change touched: <code>{theirs.join(", ")}</code>
        </p>
      ) : null}
      {unplaced.length && error.code !== "CONFLICT" ? (
        <ul>
          {unplaced.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      ) : null}
      {error.code === "CONFLICT" ? (
        <button type="button" onClick={onReload}>
          {reloadLabel}
        </button>
      ) : null}
    </div>
  );
}

export function Notice({ notice }: { notice: string | null }) {
  return notice ? (
    <p className="banner banner-ok" role="status">
      <span aria-hidden="true">● </span>
      {notice}
    </p>
  ) : null;
}

/** The object's enabled checkbox. */
export function EnabledField({
  enabled,
  setEnabled,
  readOnly,
}: {
  enabled: boolean;
  setEnabled: (v: boolean) => void;
  readOnly: boolean;
}) {
  return (
    <div className="field field-check">
      <input
        id="enabled"
        type="checkbox"
        checked={enabled}
        disabled={readOnly}
        onChange={(e) => setEnabled(e.target.checked)}
      />
      <label htmlFor="enabled">Enabled</label>
    </div>
  );
}

/** Form/YAML switch; onForm and onYaml run only when switching away from the other tab. */
export function EditorTabs({
  tab,
  onForm,
  onYaml,
}: {
  tab: "form" | "yaml";
  onForm: () => void;
  onYaml: () => void;
}) {
  return (
    <div className="tabs" role="tablist" aria-label="Editor view">
      <button
        type="button"
        role="tab"
        aria-selected={tab === "form"}
        className={tab === "form" ? "tab tab-on" : "tab"}
        onClick={() => (tab === "yaml" ? onForm() : null)}
      >
        Form
      </button>
      <button
        type="button"
        role="tab"
        aria-selected={tab === "yaml"}
        className={tab === "yaml" ? "tab tab-on" : "tab"}
        onClick={() => (tab === "form" ? onYaml() : null)}
      >
        YAML
      </button>
    </div>
  );
}

/** Save button and the two-step delete, or the viewer's read-only note. */
export function SaveDeleteActions({
  canEdit,
  busy,
  saveLabel,
  deleteName,
  confirmDelete,
  setConfirmDelete,
  onDelete,
  readOnlyNote,
}: {
  canEdit: boolean;
  busy: boolean;
  saveLabel: string;
  /** The prompt's subject, e.g. "web" or "web for every node"; null when there is nothing to delete yet. */
  deleteName: string | null;
  confirmDelete: boolean;
  setConfirmDelete: (v: boolean) => void;
  onDelete: () => void;
  readOnlyNote: string;
}) {
  if (!canEdit) return <p className="muted">{readOnlyNote}</p>;
  return (
    <div className="actions">
      <button type="submit" disabled={busy}>
        {saveLabel}
      </button>
      {deleteName !== null ? (
        confirmDelete ? (
          <span className="confirm">
            Delete {deleteName}?{" "}
            <button type="button" className="danger" onClick={onDelete} disabled={busy}>
              Yes, delete
            </button>{" "}
            <button type="button" className="secondary" onClick={() => setConfirmDelete(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
        )
      ) : null}
    </div>
  );
}
