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

const CHANGE_LABEL = {
  "allows-more": "Allows more than in Cilium",
  "denies-more": "Denies more than in Cilium",
  differs: "Differs from Cilium",
} as const;

export function YamlImport() {
  const client = useTRPCClient();
  const [text, setText] = useState("");
  const [result, setResult] = useState<(Result & { dryRun: boolean }) | null>(null);
  const [error, setError] = useState<CallError | null>(null);
  const [busy, setBusy] = useState(false);
  // Objects that would allow or deny other traffic than in Cilium are refused until the user says so.
  const [acknowledgeDifferences, setAcknowledgeDifferences] = useState(false);
  const [strict, setStrict] = useState(false);
  async function run(dryRun: boolean, skipConflicts = false) {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const answer = await client.cilium.import.mutate({
        yaml: text,
        dryRun,
        skipConflicts,
        acknowledgeDifferences,
        strict,
      });
      setResult({ ...answer, dryRun });
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
      <label className="check">
        <input
          type="checkbox"
          checked={acknowledgeDifferences}
          onChange={(e) => setAcknowledgeDifferences(e.target.checked)}
        />{" "}
        Import objects that will allow or deny other traffic than in Cilium (each difference is listed)
      </label>
      <label className="check">
        <input type="checkbox" checked={strict} onChange={(e) => setStrict(e.target.checked)} /> Strict:
        refuse any object with a field Meridian leaves out
      </label>
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
              <p>Left out (Meridian cannot carry these over):</p>
              <ul data-testid="import-unsupported">
                {result.unsupported.map((u) => (
                  <li key={`${u.object}-${u.field}`}>
                    {u.change ? <strong>{CHANGE_LABEL[u.change]}: </strong> : null}
                    {u.object} <code>{u.field}</code>: {u.reason}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {result.skipped.length ? (
            <>
              <p>Skipped documents:</p>
              <ul data-testid="import-skipped">
                {result.skipped.map((d) => (
                  <li key={d.document}>
                    document {d.document} ({d.kind}
                    {d.name ? ` ${d.name}` : ""}): {d.reason}
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
