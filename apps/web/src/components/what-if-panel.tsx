"use client";
import Link from "next/link";
import { useState, useTransition } from "react";
import { askWhatIf, type WhatIfAnswer, type WhatIfForm } from "../../app/(console)/policies/what-if/actions";
import { Field } from "./field";
import { StatusBadge } from "./status";

export function WhatIfPanel({ endpoints }: { endpoints: string[] }) {
  const [form, setForm] = useState<WhatIfForm>({
    source: endpoints[0] ?? "",
    destKind: "endpoint",
    destination: endpoints[1] ?? "",
    port: 80,
    protocol: "TCP",
  });
  const [answer, setAnswer] = useState<WhatIfAnswer | null>(null);
  const [pending, start] = useTransition();
  const err = (f: string) => (answer && !answer.ok && answer.field === f ? [answer.error] : []);
  return (
    <section className="what-if" aria-label="What-if">
      <form
        className="what-if-form"
        onSubmit={(e) => {
          e.preventDefault();
          start(async () => setAnswer(await askWhatIf(form)));
        }}
      >
        <datalist id="endpoint-names">
          {endpoints.map((e) => (
            <option key={e} value={e} />
          ))}
        </datalist>
        <Field id="wi-source" label="Source endpoint" hint="namespace/name" errors={err("source")}>
          {(a) => (
            <input
              {...a}
              list="endpoint-names"
              value={form.source}
              onChange={(e) => setForm({ ...form, source: e.target.value })}
              required
            />
          )}
        </Field>
        <fieldset className="dest-kind">
          <legend>Destination is</legend>
          {(["endpoint", "ip", "fqdn"] as const).map((k) => (
            <label key={k}>
              <input
                type="radio"
                name="destKind"
                value={k}
                checked={form.destKind === k}
                onChange={() => setForm({ ...form, destKind: k })}
              />{" "}
              {k === "endpoint" ? "an endpoint" : k === "ip" ? "an IP address" : "a DNS name"}
            </label>
          ))}
        </fieldset>
        <Field
          id="wi-destination"
          label="Destination"
          hint={
            form.destKind === "endpoint"
              ? "namespace/name"
              : form.destKind === "ip"
                ? "e.g. 10.0.1.5"
                : "e.g. api.example.com"
          }
          errors={err("destination")}
        >
          {(a) => (
            <input
              {...a}
              list={form.destKind === "endpoint" ? "endpoint-names" : undefined}
              value={form.destination}
              onChange={(e) => setForm({ ...form, destination: e.target.value })}
              required
            />
          )}
        </Field>
        <div className="form-row">
          <Field id="wi-port" label="Port" errors={err("port")}>
            {(a) => (
              <input
                {...a}
                type="number"
                min={0}
                max={65535}
                value={form.port}
                onChange={(e) => setForm({ ...form, port: Number(e.target.value) })}
              />
            )}
          </Field>
          <Field id="wi-protocol" label="Protocol">
            {(a) => (
              <select
                {...a}
                value={form.protocol}
                onChange={(e) => setForm({ ...form, protocol: e.target.value as WhatIfForm["protocol"] })}
              >
                {["TCP", "UDP", "SCTP", "ICMP", "ICMPv6"].map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <button type="submit" disabled={pending}>
          {pending ? "Asking…" : "Ask"}
        </button>
      </form>
      <div aria-live="polite" className="what-if-answer" data-testid="what-if-answer">
        {answer && !answer.ok && !answer.field ? (
          <p className="form-error" role="alert">
            {answer.error}
          </p>
        ) : null}
        {answer?.ok ? (
          <div className="card">
            <p className="verdict" data-testid="verdict">
              <StatusBadge
                tone={answer.result.verdict === "allow" ? "ok" : "bad"}
                label={answer.result.verdict === "allow" ? "Allowed" : "Denied"}
              />
            </p>
            <p>
              Deciding rule:{" "}
              {answer.result.ruleId ? (
                <code data-testid="deciding-rule">{answer.result.ruleId}</code>
              ) : (
                "none (default)"
              )}
              {answer.result.policy ? (
                <>
                  {" "}
                  in policy <strong>{answer.result.policy}</strong>
                </>
              ) : null}
            </p>
            <table className="grid">
              <caption>Checks at revision {answer.revision}</caption>
              <thead>
                <tr>
                  <th scope="col">Direction</th>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {answer.result.checks.map((c) => (
                  <tr key={`${c.direction}-${c.endpoint}`}>
                    <td>{c.direction}</td>
                    <td>{answer.names[c.endpoint] ?? c.endpoint}</td>
                    <td>
                      <StatusBadge tone={c.verdict === "allow" ? "ok" : "bad"} label={c.verdict} />
                    </td>
                    <td>{c.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Link href="/policies">Policies →</Link>
          </div>
        ) : null}
      </div>
    </section>
  );
}
