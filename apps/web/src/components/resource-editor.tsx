"use client";
// Create and edit any spec-carrying object (egress, BGP, SRv6) with a form for its common fields
// and a YAML view of the whole spec. Same rules as the policy editor: the version travels with the
// edit, conflicts name who changed it, validation messages sit beside their field.
import { useRouter } from "next/navigation";
import { useState } from "react";
import { parse, stringify } from "yaml";
import {
  EditorTabs,
  EnabledField,
  FormError,
  Notice,
  SaveDeleteActions,
  unplacedErrors,
} from "@/components/editor-parts";
import { Field, FieldErrors } from "@/components/field";
import { type CallError, callError, errorsUnder } from "@/lib/errors";
import { KINDS, type KindKey } from "@/lib/kinds";
import { labelsToText, textToLabels } from "@/lib/policy-form";
import { useTRPCClient } from "@/lib/trpc";

type Obj = Record<string, unknown>;

export interface ResourceInitial {
  id: string;
  name: string;
  enabled: boolean;
  description: string;
  spec: Obj;
  version: number;
}

interface Procs {
  create: { mutate(i: unknown): Promise<{ id: string; revision: number }> };
  update: { mutate(i: unknown): Promise<{ version: number; revision: number | null; spec: unknown }> };
  delete: { mutate(i: unknown): Promise<unknown> };
}

function getAt(o: Obj, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Obj)[k] : undefined), o);
}

function setAt(o: Obj, path: string, value: unknown): Obj {
  const [head, ...rest] = path.split(".");
  const copy = { ...o };
  if (rest.length === 0) {
    if (value === undefined) delete copy[head!];
    else copy[head!] = value;
  } else copy[head!] = setAt((o[head!] as Obj) ?? {}, rest.join("."), value);
  return copy;
}

/** A nested object (an import policy…) as YAML; invalid YAML is reported here and not applied. */
function YamlField({
  id,
  label,
  hint,
  errors,
  value,
  readOnly,
  onChange,
}: {
  id: string;
  label: string;
  hint?: string;
  errors: string[];
  value: unknown;
  readOnly: boolean;
  onChange: (v: unknown) => void;
}) {
  const [text, setText] = useState(() => (value === undefined || value === null ? "" : stringify(value)));
  const [parseError, setParseError] = useState<string | null>(null);
  return (
    <Field id={id} label={label} hint={hint} errors={parseError ? [parseError, ...errors] : errors}>
      {(a) => (
        <textarea
          {...a}
          className="code"
          rows={6}
          spellCheck={false}
          readOnly={readOnly}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            try {
              const parsed: unknown = e.target.value.trim() === "" ? undefined : parse(e.target.value);
              setParseError(null);
              onChange(parsed ?? undefined);
            } catch (err) {
              setParseError(`YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
              // Sent as text, so a save now fails on this field instead of keeping an older value.
              onChange(e.target.value);
            }
          }}
        />
      )}
    </Field>
  );
}

export function ResourceEditor({
  kind,
  initial,
  canEdit,
}: {
  kind: KindKey;
  initial: ResourceInitial | null;
  canEdit: boolean;
}) {
  const def = KINDS[kind];
  const client = useTRPCClient() as unknown as Record<string, Record<string, Procs>>;
  const procs = (def.api.length === 2
    ? client[def.api[0]]![def.api[1]]
    : client[def.api[0]]) as unknown as Procs;
  const router = useRouter();
  const [base, setBase] = useState(initial);
  const [name, setName] = useState(initial?.name ?? "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [spec, setSpec] = useState<Obj>(initial?.spec ?? def.template);
  const [tab, setTab] = useState<"form" | "yaml">("form");
  const [yamlText, setYamlText] = useState("");
  const [error, setError] = useState<CallError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const fe = error?.fieldErrors ?? {};
  const ro = !canEdit;

  function toYaml() {
    setYamlText(stringify(spec));
    setTab("yaml");
  }
  function fromYaml(): boolean {
    try {
      const v = parse(yamlText);
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("the spec must be a mapping");
      setSpec(v as Obj);
      setError(null);
      return true;
    } catch (err) {
      setError({
        message: `YAML: ${err instanceof Error ? err.message : String(err)}`,
        code: "BAD_REQUEST",
        fieldErrors: {},
      });
      return false;
    }
  }

  async function save() {
    if (tab === "yaml" && !fromYaml()) return;
    const current = tab === "yaml" ? (parse(yamlText) as Obj) : spec;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      if (base) {
        const r = await procs.update.mutate({
          id: base.id,
          version: base.version,
          spec: current,
          ...(def.hasEnabled ? { enabled } : {}),
        });
        setBase({ ...base, version: r.version });
        setNotice(`Saved as revision ${r.revision ?? "—"} (version ${r.version}).`);
        router.refresh();
      } else {
        const r = await procs.create.mutate({ name, spec: current, ...(def.hasEnabled ? { enabled } : {}) });
        router.push(`/objects/${kind}/${r.id}?created=${r.revision}`);
      }
    } catch (err) {
      setError(callError(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!base) return;
    setBusy(true);
    try {
      await procs.delete.mutate({ id: base.id, version: base.version });
      router.push(def.listHref);
    } catch (err) {
      setError(callError(err));
      setConfirmDelete(false);
    } finally {
      setBusy(false);
    }
  }

  const placed = ["name", ...def.fields.map((f) => `spec.${f.path}`)];
  const unplaced = unplacedErrors(fe, tab, placed);

  return (
    <div className="editor">
      <FormError error={error} unplaced={unplaced} onReload={() => router.refresh()} reloadLabel="Reload" />
      <Notice notice={notice} />
      <EditorTabs tab={tab} onForm={() => fromYaml() && setTab("form")} onYaml={toYaml} />
      <form
        className="policy-form"
        aria-label={def.label}
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="form-row">
          <Field id="name" label="Name" errors={errorsUnder(fe, "name")}>
            {(a) => (
              <input
                {...a}
                value={name}
                required
                readOnly={ro || Boolean(base)}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
          {def.hasEnabled ? <EnabledField enabled={enabled} setEnabled={setEnabled} readOnly={ro} /> : null}
        </div>
        {tab === "form" ? (
          <div className="form-grid">
            {def.fields.map((f) => {
              const id = `f-${f.path.replace(/\./g, "-")}`;
              const v = getAt(spec, f.path);
              const errs = errorsUnder(fe, `spec.${f.path}`);
              const set = (value: unknown) => setSpec((s) => setAt(s, f.path, value));
              if (f.type === "bool") {
                return (
                  <div key={f.path} className="field field-check">
                    <input
                      id={id}
                      type="checkbox"
                      checked={Boolean(v)}
                      disabled={ro}
                      onChange={(e) => set(e.target.checked)}
                    />
                    <label htmlFor={id}>{f.label}</label>
                    <FieldErrors id={`${id}-errors`} errors={errs} />
                  </div>
                );
              }
              if (f.type === "yaml") {
                return (
                  <YamlField
                    key={f.path}
                    id={id}
                    label={f.label}
                    hint={f.hint}
                    errors={errs}
                    value={v}
                    readOnly={ro}
                    onChange={set}
                  />
                );
              }
              if (f.type === "checks") {
                const arr = (v as string[]) ?? [];
                return (
                  <fieldset key={f.path} className={`field ${errs.length ? "field-invalid" : ""}`}>
                    <legend>{f.label}</legend>
                    {f.options.map((o) => (
                      <label key={o} className="check">
                        <input
                          type="checkbox"
                          checked={arr.includes(o)}
                          disabled={ro}
                          onChange={(e) => set(e.target.checked ? [...arr, o] : arr.filter((x) => x !== o))}
                        />{" "}
                        {o}
                      </label>
                    ))}
                    <FieldErrors id={`${id}-errors`} errors={errs} />
                  </fieldset>
                );
              }
              return (
                <Field key={f.path} id={id} label={f.label} hint={f.hint} errors={errs}>
                  {(a) =>
                    f.type === "select" ? (
                      <select
                        {...a}
                        value={String(v ?? "")}
                        disabled={ro}
                        onChange={(e) => set(e.target.value)}
                      >
                        {f.options.map((o) => (
                          <option key={o}>{o}</option>
                        ))}
                      </select>
                    ) : (
                      <input
                        {...a}
                        type={f.type === "number" ? "number" : f.type === "password" ? "password" : "text"}
                        readOnly={ro}
                        autoComplete={f.type === "password" ? "new-password" : undefined}
                        value={
                          f.type === "list"
                            ? ((v as string[]) ?? []).join(", ")
                            : f.type === "labels"
                              ? labelsToText(v as Record<string, string>)
                              : v === undefined || v === null
                                ? ""
                                : String(v)
                        }
                        onChange={(e) => {
                          const t = e.target.value;
                          if (f.type === "number") set(t === "" ? undefined : Number(t));
                          else if (f.type === "list")
                            set(
                              t
                                .split(",")
                                .map((x) => x.trim())
                                .filter(Boolean),
                            );
                          else if (f.type === "labels") set(textToLabels(t));
                          else set(t === "" ? undefined : t);
                        }}
                      />
                    )
                  }
                </Field>
              );
            })}
            <p className="muted">Other settings: use the YAML view.</p>
          </div>
        ) : (
          <div className="yaml-view">
            <label htmlFor="yaml">Spec (YAML)</label>
            <textarea
              id="yaml"
              className="code"
              rows={18}
              spellCheck={false}
              value={yamlText}
              readOnly={ro}
              onChange={(e) => setYamlText(e.target.value)}
            />
          </div>
        )}
        <SaveDeleteActions
          canEdit={canEdit}
          busy={busy}
          saveLabel={base ? "Save changes" : `Create ${def.label}`}
          deleteName={base ? base.name : null}
          confirmDelete={confirmDelete}
          setConfirmDelete={setConfirmDelete}
          onDelete={remove}
          readOnlyNote="You have the viewer role: this is read-only."
        />
      </form>
    </div>
  );
}
