// "Why was this dropped?": one flow record explained (flows.explain) — the decision in words, the
// reason, and the policies to edit, each linked to its page (or marked gone).
import type { AppRouter } from "@meridian/api";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { endLabel } from "@/lib/flows";
import { StatusBadge } from "./status";

type Explanation = inferRouterOutputs<AppRouter>["flows"]["explain"];

export function FlowWhy({ e, closeHref }: { e: Explanation; closeHref: string }) {
  const f = e.flow;
  const deny = f.ruleId && f.ruleId !== "default-deny";
  return (
    <section className="card" aria-labelledby="why-title" data-testid="flow-why">
      <h2 id="why-title">Why was this {f.verdict === "dropped" ? "dropped" : f.verdict}?</h2>
      <p>
        {endLabel(f.source, f.sourcePod)} → {endLabel(f.destination, f.destinationPod, f.port)}{" "}
        {f.protocol.toUpperCase()} · seen {f.direction ?? ""} at {f.endpoint ?? "the node"} on {f.node},{" "}
        {f.at.toISOString().slice(0, 19).replace("T", " ")} UTC
      </p>
      <p data-testid="why-summary">
        <strong>{e.summary}</strong>
      </p>
      <dl className="facts">
        <dt>Reason</dt>
        <dd>
          {f.reason ? <code>{f.reason}</code> : "—"}: {e.reasonWords}
        </dd>
        {f.ruleId ? (
          <>
            <dt>Deciding rule</dt>
            <dd>
              <code>{f.ruleId}</code>
              {f.ruleId === "default-deny" ? " (no rule matched; the pod's default deny decided)" : null}
            </dd>
          </>
        ) : null}
        {e.byPolicy || e.policies.length ? (
          <>
            <dt>{deny ? "Policy" : "Policies that select the pod and enforce default deny"}</dt>
            <dd>
              {e.policies.length === 0 ? (
                <span className="muted">the agent named none</span>
              ) : (
                <ul className="inline-list" data-testid="why-policies">
                  {e.policies.map((p) => (
                    <li key={p.ref}>
                      {p.id ? (
                        <Link href={`/policies/${p.id}`}>{p.ref}</Link>
                      ) : (
                        <>
                          {p.ref} <StatusBadge tone="unknown" label="deleted since" />
                        </>
                      )}
                      {p.id && !p.enabled ? <StatusBadge tone="warn" label="disabled now" /> : null}
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </>
        ) : null}
        {e.rule ? (
          <>
            <dt>The rule today</dt>
            <dd>
              <code>{JSON.stringify(e.rule.spec)}</code>
            </dd>
          </>
        ) : null}
        {f.suppressed ? (
          <>
            <dt>Held back</dt>
            <dd>{f.suppressed} more drop events of this kind (the datapath&apos;s rate limit)</dd>
          </>
        ) : null}
      </dl>
      {f.reason === "policy_default" ? (
        <p className="muted">
          To allow it, add {f.direction ? `an ${f.direction}` : "a"} rule for this peer and port to one of
          these policies.
        </p>
      ) : null}
      <Link href={closeHref}>Close</Link>
    </section>
  );
}
