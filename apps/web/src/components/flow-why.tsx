// "Why was this dropped?": one flow record explained (flows.explain) — the decision in words, the
// reason, and the policies to edit, each linked to its page (or marked gone).
import type { AppRouter } from "@meridian/api";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { stringify } from "yaml";
import { endLabel } from "@/lib/flows";
import { StatusBadge } from "./status";

type Explanation = inferRouterOutputs<AppRouter>["flows"]["explain"];
type Fix = Explanation["fixes"][number];

/** Where a fix opens the editor: the policy's own page, or a new policy, pre-filled from this record. */
export function fixHref(fix: Fix, flowId: string): string {
  return fix.kind === "existing" && fix.policyId
    ? `/policies/${fix.policyId}?fix=${flowId}`
    : `/policies/new?fix=${flowId}`;
}

/** The rules that would allow the drop, each already compiled and checked against this flow. */
function FlowFixes({ e }: { e: Explanation }) {
  const offered = e.fixes.filter((f) => f.verdict === "allow");
  if (offered.length === 0)
    return e.noFix || e.fixes.length ? (
      <p className="muted" data-testid="why-no-fix">
        No rule to suggest: {e.noFix ?? `a rule for it would still be denied (${e.fixes[0]?.reason})`}.
      </p>
    ) : null;
  const [first] = offered;
  return (
    <div data-testid="why-fix">
      <h3>The rule that would allow it</h3>
      <p>
        <strong>{first!.words}</strong> — checked: compiled with it, the datapath&apos;s entries give this
        flow <code>allow</code> ({first!.reason}).
      </p>
      <pre className="code">{stringify({ [first!.direction]: [first!.rule] })}</pre>
      {first!.wholePath && first!.wholePath.verdict === "deny" ? (
        <p className="banner banner-warn">The other end would still refuse it: {first!.wholePath.reason}</p>
      ) : null}
      <ul className="inline-list">
        {offered.map((f) => (
          <li key={f.kind}>
            <Link className="button" href={fixHref(f, e.flow.id)}>
              {f.kind === "existing"
                ? `Add it to ${f.policy} as ${f.direction} rule ${f.ruleIndex + 1}`
                : `Create it as a new policy ${f.policy}`}
            </Link>
          </li>
        ))}
      </ul>
      <p className="muted">The editor opens with the rule filled in; nothing changes until you save.</p>
    </div>
  );
}

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
      {f.verdict === "dropped" ? <FlowFixes e={e} /> : null}
      <Link href={closeHref}>Close</Link>
    </section>
  );
}
