"use client";
import Link from "next/link";
import { useState } from "react";
import { type CallError, callError } from "@/lib/errors";
import { useTRPCClient } from "@/lib/trpc";

type Result = Awaited<ReturnType<ReturnType<typeof useTRPCClient>["cilium"]["import"]["mutate"]>>;

const HREF: Record<string, (id: string) => string> = {
  NetworkPolicy: (id) => `/policies/${id}`,
  EgressGatewayPolicy: (id) => `/objects/egress/${id}`,
  BgpInstance: (id) => `/objects/bgp-instances/${id}`,
  BgpPeer: (id) => `/objects/bgp-peers/${id}`,
  BgpAdvertisement: (id) => `/objects/bgp-advertisements/${id}`,
};

export function YamlImport() {
  const client = useTRPCClient();
  const [text, setText] = useState("");
  const [result, setResult] = useState<(Result & { dryRun: boolean }) | null>(null);
  const [error, setError] = useState<CallError | null>(null);
  const [busy, setBusy] = useState(false);
  async function run(dryRun: boolean, skipConflicts = false) {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult({ ...(await client.cilium.import.mutate({ yaml: text, dryRun, skipConflicts })), dryRun });
    } catch (err) {
      setError(callError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="editor">
      <label htmlFor="import-yaml">YAML (several documents separated by ---)</label>
      <textarea
        id="import-yaml"
        className="code"
        rows={20}
        spellCheck={false}
        value={text}
        onChange={(e) => setText(e.target.value)}
        aria-invalid={Boolean(error)}
        aria-describedby={error ? "import-errors" : undefined}
      />
      <div className="actions">
        <button type="button" className="secondary" disabled={busy} onClick={() => run(true)}>
          Check
        </button>
        <button type="button" disabled={busy} onClick={() => run(false)}>
          Import
        </button>
      </div>
      {error ? (
        <div className="form-error" role="alert" id="import-errors" data-testid="import-errors">
          <p>
            <strong>
              {error.code === "CONFLICT" ? "Conflict — nothing was imported: " : "Not imported: "}
            </strong>
            {error.code === "CONFLICT"
              ? "these objects changed since the YAML was exported."
              : Object.keys(error.fieldErrors).length
                ? "fix these and import again."
                : error.message}
          </p>
          <ul>
            {Object.entries(error.fieldErrors).flatMap(([k, v]) =>
              v.map((m) => (
                <li key={`${k}-${m}`}>
                  <code>{k.replace(/^yaml\./, "").replace(/^objects\./, "")}</code>: {m}
                </li>
              )),
            )}
          </ul>
          {error.code === "CONFLICT" ? (
            <button type="button" className="secondary" disabled={busy} onClick={() => run(false, true)}>
              Import the others, leave these as they are
            </button>
          ) : null}
        </div>
      ) : null}
      {result ? (
        <div className="banner banner-ok" role="status">
          <p>
            <span aria-hidden="true">● </span>
            {result.revision
              ? `Imported as revision ${result.revision}.`
              : result.dryRun
                ? "Checked: nothing was written."
                : "Nothing changed."}
          </p>
          <ul>
            {result.objects.map((o) => (
              <li key={`${o.kind}-${o.namespace}-${o.name}`}>
                {o.kind} {o.namespace ? `${o.namespace}/` : ""}
                {o.id && HREF[o.kind] ? <Link href={HREF[o.kind]!(o.id)}>{o.name}</Link> : o.name}:{" "}
                {o.action === "conflict" ? <strong>not imported, {o.conflict}</strong> : o.action}
              </li>
            ))}
          </ul>
          {result.unsupported.length ? (
            <>
              <p>Not imported (Meridian cannot enforce these):</p>
              <ul>
                {result.unsupported.map((u) => (
                  <li key={`${u.object}-${u.field}`}>
                    {u.object} <code>{u.field}</code>: {u.reason}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
