// The policy as a picture: who may reach the selected pods (left), the pods themselves (middle),
// and where they may go (right), with ports and FQDN selectors on each arrow. Deny rules are
// marked with a word and a shape, not only a colour.
import type { Spec } from "@/lib/policy-form";

type Rule = Record<string, unknown>;
type Sel = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string }[] };

function sel(s: Sel): string {
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}`),
  ];
  return parts.length ? parts.join(", ") : "all endpoints";
}

function peersOf(rule: Rule, dir: "from" | "to"): string[] {
  const out: string[] = [];
  for (const s of (rule[`${dir}Endpoints`] as Sel[]) ?? []) out.push(`pods: ${sel(s)}`);
  for (const c of (rule[`${dir}CIDR`] as string[]) ?? []) out.push(`CIDR ${c}`);
  for (const c of (rule[`${dir}CIDRSet`] as { cidr: string; except?: string[] }[]) ?? [])
    out.push(`CIDR ${c.cidr}${c.except?.length ? ` except ${c.except.join(", ")}` : ""}`);
  for (const e of (rule[`${dir}Entities`] as string[]) ?? []) out.push(`entity ${e}`);
  for (const f of (rule.toFQDNs as { matchName?: string; matchPattern?: string }[]) ?? [])
    out.push(`FQDN ${f.matchName ?? f.matchPattern}`);
  return out.length ? out : ["anyone (no peer restriction)"];
}

function portsOf(rule: Rule): string {
  const tp = (rule.toPorts as { ports?: { port: unknown; endPort?: number; protocol?: string }[] }[]) ?? [];
  const ports = tp.flatMap((t) =>
    (t.ports ?? []).map(
      (p) =>
        `${p.port === "0" || p.port === 0 ? "any port" : p.port}${p.endPort ? `-${p.endPort}` : ""}/${p.protocol ?? "ANY"}`,
    ),
  );
  const dns = tp.flatMap(
    (t) =>
      ((t as { rules?: { dns?: { matchName?: string; matchPattern?: string }[] } }).rules?.dns ?? []).map(
        (d) => d.matchName ?? d.matchPattern,
      ) ?? [],
  );
  return [ports.length ? ports.join(", ") : "all ports", dns.length ? `DNS: ${dns.join(", ")}` : ""]
    .filter(Boolean)
    .join(" · ");
}

function RuleCard({
  rule,
  dir,
  deny,
  index,
}: {
  rule: Rule;
  dir: "from" | "to";
  deny: boolean;
  index: number;
}) {
  return (
    <li className={`rule-card ${deny ? "rule-deny" : "rule-allow"}`}>
      <span className="rule-kind">
        <span aria-hidden="true">{deny ? "✕" : "✓"}</span> {deny ? "deny" : "allow"} #{index + 1}
      </span>
      <ul>
        {peersOf(rule, dir).map((p) => (
          <li key={p}>{p}</li>
        ))}
      </ul>
      <span className="rule-ports">{portsOf(rule)}</span>
    </li>
  );
}

export function RuleView({ spec }: { spec: Spec }) {
  const ingress = [
    ...((spec.ingress as Rule[]) ?? []).map((r, i) => ({ r, i, deny: false })),
    ...((spec.ingressDeny as Rule[]) ?? []).map((r, i) => ({ r, i, deny: true })),
  ];
  const egress = [
    ...((spec.egress as Rule[]) ?? []).map((r, i) => ({ r, i, deny: false })),
    ...((spec.egressDeny as Rule[]) ?? []).map((r, i) => ({ r, i, deny: true })),
  ];
  return (
    <figure className="rule-view" aria-label="Rule view: sources, selected pods, destinations">
      <div className="rule-col">
        <h3>Sources (ingress)</h3>
        {ingress.length ? (
          <ul className="rule-list">
            {ingress.map(({ r, i, deny }) => (
              <RuleCard key={`${deny}-${i}`} rule={r} dir="from" deny={deny} index={i} />
            ))}
          </ul>
        ) : (
          <p className="muted">No ingress rules: ingress is not restricted by this policy.</p>
        )}
      </div>
      <div className="rule-arrow" aria-hidden="true">
        →
      </div>
      <div className="rule-col rule-selected">
        <h3>Selected pods</h3>
        <p className="selected-pods">{sel((spec.endpointSelector as Sel) ?? {})}</p>
      </div>
      <div className="rule-arrow" aria-hidden="true">
        →
      </div>
      <div className="rule-col">
        <h3>Destinations (egress)</h3>
        {egress.length ? (
          <ul className="rule-list">
            {egress.map(({ r, i, deny }) => (
              <RuleCard key={`${deny}-${i}`} rule={r} dir="to" deny={deny} index={i} />
            ))}
          </ul>
        ) : (
          <p className="muted">No egress rules: egress is not restricted by this policy.</p>
        )}
      </div>
    </figure>
  );
}
