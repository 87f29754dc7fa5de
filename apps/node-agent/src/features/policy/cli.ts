// `meridian-agent policy <endpoint>` and `meridian-agent flows [--follow]`, and the datapath's row
// of `meridian-agent status`.
import type { EndpointView } from "../../agent/protocol.js";
import { type FeatureCli, UsageError } from "../../cli/command.js";
import { table } from "../../cli/table.js";

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
      usage: "  flows [--follow]    flow events from the datapath",
      options: { follow: { type: "boolean" } },
      async run({ values, json, get, stream, out }) {
        const follow = values.follow === true;
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        await get("/v1/status"); // fails with a clear message before a header is printed
        if (!json) out(table(["TIME", "SOURCE", "DESTINATION", "PROTO", "VERDICT", "REASON"], []));
        await stream(
          `/v1/flows${follow ? "?follow=1" : ""}`,
          (f) => {
            const e = f as {
              time: string;
              src: string;
              dst: string;
              proto: string;
              sport?: number;
              dport?: number;
              verdict: string;
              reason?: string;
            };
            if (json) return out(JSON.stringify(e));
            out(
              [
                e.time,
                `${e.src}${e.sport ? `:${e.sport}` : ""}`,
                `${e.dst}${e.dport ? `:${e.dport}` : ""}`,
                e.proto,
                e.verdict,
                e.reason ?? "",
              ].join("  "),
            );
          },
          ac.signal,
        );
        return 0;
      },
    },
  ],
};
