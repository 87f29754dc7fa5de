// `meridian-agent policy <endpoint>` and `meridian-agent flows [--follow]`, and the datapath's row
// of `meridian-agent status`.
import type { EndpointView } from "../../agent/protocol.js";
import { type FeatureCli, UsageError } from "../../cli/command.js";
import { table } from "../../cli/table.js";
import type { FlowEvent } from "./datapath.js";
import { FLOW_FILTER_KEYS, parseFlowFilter } from "./flow-filter.js";

/** Streamed rows cannot be measured first: fixed widths, the last column (the rule) free. */
const FLOW_WIDTHS = [24, 10, 7, 28, 26, 26, 6, 16];
const FLOW_HEADERS = [
  "TIME",
  "VERDICT",
  "DIR",
  "ENDPOINT",
  "SOURCE",
  "DESTINATION",
  "PROTO",
  "REASON",
  "RULE",
];

export function flowRow(cells: string[]): string {
  return cells
    .map((c, i) => (i < FLOW_WIDTHS.length ? c.padEnd(FLOW_WIDTHS[i]!) : c))
    .join(" ")
    .trimEnd();
}

/** One flow as table cells: the rule names a default deny's policies, a suppressed count shows. */
export function flowCells(e: FlowEvent): string[] {
  const rule =
    e.ruleId === "default-deny"
      ? `default-deny (${(e.policies ?? []).join(", ") || "?"})`
      : (e.ruleId ?? "-");
  return [
    e.time,
    e.verdict,
    e.direction ?? "-",
    e.pod ? `${e.namespace ?? "default"}/${e.pod}` : (e.endpoint ?? "-"),
    `${e.src}${e.sport ? `:${e.sport}` : ""}`,
    `${e.dst}${e.dport ? `:${e.dport}` : ""}`,
    e.proto,
    `${e.reason ?? (e.verdict === "forwarded" ? "-" : e.verdict)}${e.suppressed ? ` (+${e.suppressed} held back)` : ""}`,
    rule,
  ];
}

interface PolicyRow {
  direction: string;
  remoteIdentity: number;
  protocol: number;
  portLow: number;
  portHigh: number;
  verdict: string;
  ruleId: string;
}

interface PolicyView {
  endpoint: EndpointView;
  desired: {
    identity: number;
    policies: string[];
    policyEnforced: { ingress: boolean; egress: boolean };
    entries: PolicyRow[];
  } | null;
  datapath: unknown;
}

interface KernelPolicyView {
  enforced: true;
  pinDir: string;
  attached: string[];
  endpoint: { epId: number; identity: number; ingressEnforced: boolean; egressEnforced: boolean } | null;
  entries: PolicyRow[];
}

const ports = (e: PolicyRow) =>
  e.portLow === 0 && e.portHigh === 65535
    ? "any"
    : e.portLow === e.portHigh
      ? String(e.portLow)
      : `${e.portLow}-${e.portHigh}`;

/**
 * The kernel's side of `policy`: entries read back from the maps (a port range appears as the
 * aligned blocks it was split into) and whether each desired entry is covered by them.
 */
function printKernelPolicy(dp: KernelPolicyView, desired: PolicyRow[], out: (s: string) => void): void {
  const k = dp.endpoint;
  out("");
  out(
    k
      ? `kernel    ep ${k.epId}, identity ${k.identity}, ingress ${k.ingressEnforced ? "enforced" : "open"}, egress ${k.egressEnforced ? "enforced" : "open"}; programs ${dp.attached.join(", ") || "NOT ATTACHED"} (${dp.pinDir})`
      : "kernel    endpoint NOT in the datapath maps",
  );
  const covered = (d: PolicyRow) =>
    dp.entries.some(
      (e) =>
        e.direction === d.direction &&
        e.remoteIdentity === d.remoteIdentity &&
        e.ruleId === d.ruleId &&
        e.portLow <= d.portHigh &&
        e.portHigh >= d.portLow,
    );
  const missing = desired.filter((d) => !covered(d));
  if (dp.entries.length) {
    out("");
    out(
      table(
        ["DIRECTION", "REMOTE IDENTITY", "PROTO", "PORTS", "VERDICT", "RULE", "DESIRED"],
        dp.entries.map((e) => [
          e.direction,
          e.remoteIdentity === 0 ? "any" : String(e.remoteIdentity),
          e.protocol === 0 ? "any" : String(e.protocol),
          ports(e),
          e.verdict,
          e.ruleId,
          // An enforcement marker names a default deny's policies; it is not a desired rule.
          e.verdict === "default-deny"
            ? "marker"
            : desired.some((d) => d.ruleId === e.ruleId && d.direction === e.direction)
              ? "yes"
              : "NOT DESIRED",
        ]),
      ),
    );
  } else {
    out("          no policy entries in the kernel");
  }
  out(
    missing.length === 0
      ? "in sync  every desired entry is in the kernel"
      : `OUT OF SYNC  ${missing.length} desired entr${missing.length === 1 ? "y is" : "ies are"} missing from the kernel: ${missing.map((m) => `${m.direction} ${m.ruleId}`).join(", ")}`,
  );
}

export const policyCli: FeatureCli = {
  statusRows: (s) => [["datapath", `${s.datapath.name}${s.datapath.enforcing ? "" : "  [NOT ENFORCING]"}`]],
  commands: [
    {
      name: "policy",
      usage: "  policy <endpoint>   policy held for an endpoint (container id, pod name, ns/name or IP)",
      async run({ positionals, json, get, out }) {
        const ref = positionals[0];
        if (!ref)
          throw new UsageError("policy needs an endpoint: container id, pod name, namespace/name or IP");
        const body = (await get(`/v1/endpoints/${encodeURIComponent(ref)}/policy`)) as PolicyView;
        if (json) {
          out(JSON.stringify(body, null, 2));
          return 0;
        }
        const ep = body.endpoint;
        out(
          `endpoint  ${ep.podName ? `${ep.namespace ?? "default"}/${ep.podName}` : ep.containerId}  ${ep.addresses.join(", ")}`,
        );
        const d = body.desired;
        if (!d) {
          out("desired   none (no control-plane state for this endpoint)");
        } else {
          out(`identity  ${d.identity}`);
          out(`policies  ${d.policies.join(", ") || "none"}`);
          out(
            `enforced  ingress ${d.policyEnforced.ingress ? "yes (default deny)" : "no"}, egress ${d.policyEnforced.egress ? "yes (default deny)" : "no"}`,
          );
          if (d.entries.length) {
            out("");
            out(
              table(
                ["DIRECTION", "REMOTE IDENTITY", "PROTO", "PORTS", "VERDICT", "RULE"],
                d.entries.map((e) => [
                  e.direction,
                  e.remoteIdentity === 0 ? "any" : String(e.remoteIdentity),
                  e.protocol === 0 ? "any" : String(e.protocol),
                  ports(e),
                  e.verdict,
                  e.ruleId,
                ]),
              ),
            );
          }
        }
        const dp = body.datapath as KernelPolicyView | { enforced: false; note?: string } | null;
        if (dp && dp.enforced === false) out(`\ndatapath  NOT ENFORCING: ${dp.note ?? ""}`);
        if (dp?.enforced) printKernelPolicy(dp, d?.entries ?? [], out);
        return 0;
      },
    },
    {
      name: "flows",
      usage: [
        "  flows [--follow]    flow events from the datapath: verdict, direction, endpoint, deciding rule",
        "      --pod P --namespace N --verdict V --reason R --rule R --ip A --port N --protocol P",
        "                      only the flows that match every filter given (--rule: a rule id,",
        "                      default-deny or a policy name)",
      ].join("\n"),
      options: {
        follow: { type: "boolean" },
        ...Object.fromEntries(FLOW_FILTER_KEYS.map((k) => [k, { type: "string" as const }])),
      },
      async run({ values, json, get, stream, out }) {
        const follow = values.follow === true;
        const query = new URLSearchParams();
        if (follow) query.set("follow", "1");
        for (const k of FLOW_FILTER_KEYS) {
          const v = values[k];
          if (typeof v === "string" && v !== "") query.set(k, v);
        }
        try {
          parseFlowFilter((k) => query.get(k));
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        await get("/v1/status"); // fails with a clear message before a header is printed
        if (!json) out(flowRow(FLOW_HEADERS));
        const qs = query.toString();
        await stream(
          `/v1/flows${qs ? `?${qs}` : ""}`,
          (f) => {
            const e = f as FlowEvent;
            out(json ? JSON.stringify(e) : flowRow(flowCells(e)));
          },
          ac.signal,
        );
        return 0;
      },
    },
  ],
};
