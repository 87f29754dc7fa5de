"use client";
// Create and edit a network policy with a form or as Cilium YAML. Saves carry the version the
// edit started from, so someone else's change in between is a conflict that names them, never a
// silent overwrite. Validation messages from the API land beside the field they are about.
import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import {
  EditorTabs,
  EnabledField,
  FormError,
  Notice,
  SaveDeleteActions,
  unplacedErrors,
} from "@/components/editor-parts";
import { Field, FieldErrors } from "@/components/field";
import { RuleView } from "@/components/rule-view";
import { type CallError, callError, errorsUnder } from "@/lib/errors";
import {
  changedPaths,
  emptyRule,
  fieldsToSpec,
  type PolicyFields,
  parsePolicyYaml,
  policyYaml,
  type RuleFields,
  type Spec,
  specToFields,
} from "@/lib/policy-form";
import { useTRPCClient } from "@/lib/trpc";

export interface PolicyInitial {
  id: string;
  name: string;
  namespace: string;
  description: string;
  enabled: boolean;
  spec: Spec;
  version: number;
  updatedBy: string;
  updatedAt: string;
}

const NEW_SPEC: Spec = { endpointSelector: { matchLabels: { app: "web" } }, ingress: [], egress: [] };

/** What the editor opens with instead of the stored spec (a flow's fix): unsaved until Save. */
export interface PolicyDraft {
  name?: string;
  namespace?: string;
  spec: Spec;
}

export function PolicyEditor({
  initial,
  canEdit,
  draft,
}: {
  initial: PolicyInitial | null;
  canEdit: boolean;
  draft?: PolicyDraft;
}) {
  const client = useTRPCClient();
  const router = useRouter();
  const [base, setBase] = useState(initial);
  const [name, setName] = useState(initial?.name ?? draft?.name ?? "");
  const [namespace, setNamespace] = useState(initial?.namespace ?? draft?.namespace ?? "default");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [fields, setFields] = useState<PolicyFields>(() =>
    specToFields(draft?.spec ?? initial?.spec ?? NEW_SPEC),
  );
  const [tab, setTab] = useState<"form" | "yaml">("form");
  const [yamlText, setYamlText] = useState("");
  const [error, setError] = useState<(CallError & { theirs?: string[] }) | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  const spec = useMemo(() => fieldsToSpec(fields), [fields]);
  const fe = error?.fieldErrors ?? {};
  const errs = (path: string) => errorsUnder(fe, path);
  const readOnly = !canEdit;

  function showYaml() {
    setYamlText(policyYaml({ name, namespace, enabled, spec, version: base?.version }));
    setTab("yaml");
  }

  function yamlToForm(): boolean {
    const parsed = parsePolicyYaml(yamlText);
    if ("error" in parsed) {
      setError({ message: `YAML: ${parsed.error}`, code: "BAD_REQUEST", fieldErrors: {} });
      return false;
    }
    setName(parsed.name);
    setNamespace(parsed.namespace);
    setEnabled(parsed.enabled);
    setFields(specToFields(parsed.spec));
    return true;
  }

  async function onConflict(err: CallError) {
    // Show what the other person changed, against the version this edit started from.
    if (!base) return setError(err);
    try {
      const theirs = await client.policies.get.query({ id: base.id });
      const diff = changedPaths(
        { description: base.description, enabled: base.enabled, spec: base.spec },
        { description: theirs.description, enabled: theirs.enabled, spec: theirs.spec },
      );
      setError({ ...err, theirs: diff });
    } catch {
      setError(err);
    }
  }

  async function save() {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      if (base) {
        const r = await client.policies.update.mutate({
          id: base.id,
          version: base.version,
          description,
          enabled,
          spec: spec as never,
        });
        setBase({ ...base, version: r.version, spec: r.spec as Spec, description, enabled });
        setNotice(`Saved as revision ${r.revision ?? "—"} (version ${r.version}).`);
        router.refresh();
      } else {
        const r = await client.policies.create.mutate({
          name,
          namespace,
          description,
          enabled,
          spec: spec as never,
        });
        router.push(`/policies/${r.id}?created=${r.revision}`);
      }
    } catch (err) {
      const e = callError(err);
      if (e.code === "CONFLICT") await onConflict(e);
      else setError(e);
    } finally {
      setBusy(false);
    }
  }

  async function applyYaml() {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const r = await client.cilium.import.mutate({ yaml: yamlText });
      const obj = r.objects.find((o) => o.kind === "NetworkPolicy");
      const warn = r.unsupported.length
        ? ` Not imported: ${r.unsupported.map((u) => `${u.object} ${u.field} (${u.reason})`).join("; ")}.`
        : "";
      if (obj?.id && obj.id !== base?.id) {
        router.push(`/policies/${obj.id}?imported=${r.revision ?? ""}`);
        return;
      }
      yamlToForm();
      if (base && obj) {
        const fresh = await client.policies.get.query({ id: base.id });
        setBase({ ...base, version: fresh.version, spec: fresh.spec as Spec });
        // The next import from this view starts from the version just written.
        setYamlText((t) => t.replace(/(meridian\.io\/version:\s*)"?\d+"?/, `$1"${fresh.version}"`));
      }
      setNotice(`Imported: ${r.objects.map((o) => `${o.kind} ${o.name} ${o.action}`).join(", ")}.${warn}`);
      router.refresh();
    } catch (err) {
      const e = callError(err);
      if (e.code === "CONFLICT") await onConflict(e);
      else setError(e);
    } finally {
      setBusy(false);
    }
  }

  async function reloadTheirs() {
    if (!base) return;
    const theirs = await client.policies.get.query({ id: base.id });
    const next = {
      ...base,
      version: theirs.version,
      spec: theirs.spec as Spec,
      description: theirs.description,
      enabled: theirs.enabled,
      updatedBy: theirs.updatedBy,
      updatedAt: theirs.updatedAt.toISOString(),
    };
    setBase(next);
    setDescription(next.description);
    setEnabled(next.enabled);
    setFields(specToFields(next.spec));
    if (tab === "yaml")
      setYamlText(
        policyYaml({ name, namespace, enabled: next.enabled, spec: next.spec, version: next.version }),
      );
    setError(null);
    setNotice(`Loaded version ${next.version} by ${next.updatedBy}. Apply your change again and save.`);
  }

  async function remove() {
    if (!base) return;
    setBusy(true);
    try {
      await client.policies.delete.mutate({ id: base.id, version: base.version });
      router.push(`/policies?deleted=${encodeURIComponent(base.name)}`);
    } catch (err) {
      const e = callError(err);
      if (e.code === "CONFLICT") await onConflict(e);
      else setError(e);
      setConfirmDelete(false);
    } finally {
      setBusy(false);
    }
  }

  const setRule = (dir: "ingress" | "egress", i: number, patch: Partial<RuleFields>) =>
    setFields((f) => ({ ...f, [dir]: f[dir].map((r, j) => (j === i ? { ...r, ...patch } : r)) }));
  const addRule = (dir: "ingress" | "egress") =>
    setFields((f) => ({ ...f, [dir]: [...f[dir], emptyRule()] }));
  const removeRule = (dir: "ingress" | "egress", i: number) =>
    setFields((f) => ({ ...f, [dir]: f[dir].filter((_, j) => j !== i) }));

  const shownKeys = [
    "name",
    "namespace",
    "description",
    "spec.endpointSelector",
    ...fields.ingress.map((_, i) => `spec.ingress.${i}`),
    ...fields.egress.map((_, i) => `spec.egress.${i}`),
  ];
  const unplaced = unplacedErrors(fe, tab, shownKeys);

  function ruleEditor(dir: "ingress" | "egress", r: RuleFields, i: number) {
    const p = `spec.${dir}.${i}`;
    const peer = dir === "ingress" ? "from" : "to";
    const id = `${dir}-${i}`;
    return (
      <fieldset key={id} className="rule-editor">
        <legend>
          {dir === "ingress" ? "Ingress" : "Egress"} rule {i + 1}
        </legend>
        <Field
          id={`${id}-peers`}
          label={dir === "ingress" ? "From pods (one selector per line)" : "To pods (one selector per line)"}
          hint="key=value, key=value"
          errors={errs(`${p}.${peer}Endpoints`)}
        >
          {(a) => (
            <textarea
              {...a}
              rows={2}
              value={r.peers}
              readOnly={readOnly}
              onChange={(e) => setRule(dir, i, { peers: e.target.value })}
            />
          )}
        </Field>
        <Field
          id={`${id}-cidrs`}
          label={`${dir === "ingress" ? "From" : "To"} CIDRs`}
          errors={errs(`${p}.${peer}CIDR`)}
        >
          {(a) => (
            <input
              {...a}
              value={r.cidrs}
              readOnly={readOnly}
              onChange={(e) => setRule(dir, i, { cidrs: e.target.value })}
            />
          )}
        </Field>
        <Field
          id={`${id}-entities`}
          label={`${dir === "ingress" ? "From" : "To"} entities`}
          hint="world, cluster, host, remote-node, health, all"
          errors={errs(`${p}.${peer}Entities`)}
        >
          {(a) => (
            <input
              {...a}
              value={r.entities}
              readOnly={readOnly}
              onChange={(e) => setRule(dir, i, { entities: e.target.value })}
            />
          )}
        </Field>
        {dir === "egress" ? (
          <Field
            id={`${id}-fqdns`}
            label="To FQDNs"
            hint="names; * makes a pattern"
            errors={errs(`${p}.toFQDNs`)}
          >
            {(a) => (
              <input
                {...a}
                value={r.fqdns}
                readOnly={readOnly}
                onChange={(e) => setRule(dir, i, { fqdns: e.target.value })}
              />
            )}
          </Field>
        ) : null}
        <Field
          id={`${id}-ports`}
          label="Ports"
          hint={
            r.portsLocked ? "several port rules: edit them in YAML" : "e.g. 80/TCP, 53/ANY, 8000-8080/TCP"
          }
          errors={errs(`${p}.toPorts`)}
        >
          {(a) => (
            <input
              {...a}
              value={r.ports}
              readOnly={readOnly || r.portsLocked}
              onChange={(e) => setRule(dir, i, { ports: e.target.value })}
            />
          )}
        </Field>
        <FieldErrors
          id={`${id}-other`}
          errors={errorsUnder(fe, p).filter(
            (m) => !["Endpoints", "CIDR", "Entities", "toFQDNs", "toPorts"].some((k) => m.includes(k)),
          )}
        />
        {canEdit ? (
          <button type="button" className="secondary" onClick={() => removeRule(dir, i)}>
            Remove {dir} rule {i + 1}
          </button>
        ) : null}
      </fieldset>
    );
  }

  const stale = initial && base && initial.version > base.version;

  return (
    <div className="editor">
      {stale ? (
        <p className="banner banner-warn" role="status">
          <span aria-hidden="true">▲ </span>
          This policy changed since you opened it (now version {initial.version} by {initial.updatedBy}).
          Saving will report a conflict;{" "}
          <button type="button" className="link" onClick={reloadTheirs}>
            load the latest
          </button>
          .
        </p>
      ) : null}
      <FormError
        error={error}
        unplaced={unplaced}
        theirs={error?.theirs}
        onReload={reloadTheirs}
        reloadLabel="Load their version"
      />
      <Notice notice={notice} />
      <EditorTabs tab={tab} onForm={() => yamlToForm() && setTab("form")} onYaml={showYaml} />
      {tab === "form" ? (
        <form
          className="policy-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
          aria-label="Policy"
        >
          <div className="form-row">
            <Field id="name" label="Name" errors={errs("name")}>
              {(a) => (
                <input
                  {...a}
                  value={name}
                  readOnly={readOnly || Boolean(base)}
                  required
                  onChange={(e) => setName(e.target.value)}
                />
              )}
            </Field>
            <Field id="namespace" label="Namespace" hint="empty: cluster-wide" errors={errs("namespace")}>
              {(a) => (
                <input
                  {...a}
                  value={namespace}
                  readOnly={readOnly || Boolean(base)}
                  onChange={(e) => setNamespace(e.target.value)}
                />
              )}
            </Field>
            <EnabledField enabled={enabled} setEnabled={setEnabled} readOnly={readOnly} />
          </div>
          <Field id="description" label="Description" errors={errs("description")}>
            {(a) => (
              <input
                {...a}
                value={description}
                readOnly={readOnly}
                onChange={(e) => setDescription(e.target.value)}
              />
            )}
          </Field>
          <Field
            id="selector"
            label="Selected pods (endpoint selector)"
            hint="key=value, key=value; empty selects every pod in the namespace"
            errors={errs("spec.endpointSelector")}
          >
            {(a) => (
              <input
                {...a}
                value={fields.selector}
                readOnly={readOnly}
                onChange={(e) => setFields((f) => ({ ...f, selector: e.target.value }))}
              />
            )}
          </Field>
          <div className="rule-columns">
            <section aria-label="Ingress rules">
              <h3>Ingress</h3>
              {fields.ingress.map((r, i) => ruleEditor("ingress", r, i))}
              {canEdit ? (
                <button type="button" className="secondary" onClick={() => addRule("ingress")}>
                  Add ingress rule
                </button>
              ) : null}
            </section>
            <section aria-label="Egress rules">
              <h3>Egress</h3>
              {fields.egress.map((r, i) => ruleEditor("egress", r, i))}
              {canEdit ? (
                <button type="button" className="secondary" onClick={() => addRule("egress")}>
                  Add egress rule
                </button>
              ) : null}
            </section>
          </div>
          <SaveDeleteActions
            canEdit={canEdit}
            busy={busy}
            saveLabel={base ? "Save changes" : "Create policy"}
            deleteName={base ? `${base.name} for every node` : null}
            confirmDelete={confirmDelete}
            setConfirmDelete={setConfirmDelete}
            onDelete={remove}
            readOnlyNote="You have the viewer role: this policy is read-only."
          />
        </form>
      ) : (
        <div className="yaml-view">
          <label htmlFor="yaml">Cilium YAML (CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy)</label>
          <textarea
            id="yaml"
            className="code"
            rows={22}
            spellCheck={false}
            value={yamlText}
            readOnly={readOnly}
            onChange={(e) => setYamlText(e.target.value)}
          />
          {canEdit ? (
            <div className="actions">
              <button type="button" onClick={applyYaml} disabled={busy}>
                Import YAML
              </button>
            </div>
          ) : null}
        </div>
      )}
      <h2>Rule view</h2>
      <RuleView spec={spec} />
    </div>
  );
}
