// The egress gateway subsystem (component "egress"): writes the datapath's egress maps
// (bpf/lib/egress_gw.h, through kernel.ts) from the desired state's `egressGateway` section — on a
// source node, which of its pods' destinations go to which gateway; on the active gateway, which
// sources it translates to which egress IP (plan.ts). Every write is all or nothing.
//
// It refuses a state it cannot write (refusesStateOnFailure): CNI ADD returns once a desired state
// holding the pod has been applied (agent/admission.ts), and the compiler puts a selected pod in
// the egress section of the same state that gives it its identity. Refusing keeps that state from
// counting as applied, so ADD never returns before the pod's steering is in the kernel and its
// first connection cannot leave with the pod's own address.
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { egressDetailSchema } from "@meridian/model";
import type { Metric } from "prom-client";
import { type LocalRoute, sendJson } from "../../agent/local-api.js";
import type { FeatureCli } from "../../cli/command.js";
import { table } from "../../cli/table.js";
import { parseCidr } from "../../datapath/index.js";
import type { ComponentStatus, NodeDesiredState } from "../../sync/channel.js";
import { type AgentFeature, componentStatusSchema, type FeatureContext } from "../feature.js";
import { EgressKernel, type EgressSnatEntry } from "./kernel.js";
import { type EgressPlan, planEgress } from "./plan.js";

export const egressStatusSchema = componentStatusSchema("egress", egressDetailSchema);

/** Translations listed by GET /v1/egress (the count is always exact). */
const SNAT_LIST_MAX = 1000;

export interface EgressFeatureDeps {
  /** The policy datapath's pin directory, when it is the eBPF one (else the feature stays off). */
  pinDir?: string;
  /** An interface's addresses (a gateway given by `interface`); default: this process's view. */
  interfaceAddresses?(name: string): string[];
  /** The uplink programs (from_net, to_net) on exactly these interfaces (the eBPF datapath's). */
  setUplinks?(ifnames: string[]): Promise<unknown>;
}

/** The interface's addresses as this process sees them, link-local IPv6 left out (not routable). */
function localInterfaceAddresses(name: string): string[] {
  return (networkInterfaces()[name] ?? [])
    .map((a) => a.address)
    .filter((a) => !a.toLowerCase().startsWith("fe80:"));
}

/** The interface holding `ip`, else one with an address whose subnet holds it. */
function localInterfaceOf(ip: string): string | undefined {
  const all = Object.entries(networkInterfaces()).flatMap(([name, addrs]) =>
    (addrs ?? []).filter((a) => !a.internal).map((a) => ({ name, a })),
  );
  const exact = all.find(({ a }) => a.address === ip);
  if (exact) return exact.name;
  return all.find(({ a }) => a.cidr && cidrHolds(a.cidr, ip))?.name;
}

function cidrHolds(cidr: string, ip: string): boolean {
  try {
    const c = parseCidr(cidr);
    const a = parseCidr(`${ip}/${c.prefix}`);
    return a.family === c.family && a.bytes.equals(c.bytes);
  } catch {
    return false;
  }
}

export class EgressFeature implements AgentFeature {
  readonly component = "egress";
  readonly sections = ["egressGateway", "endpoints", "node"] as const;
  readonly refusesStateOnFailure = true;
  readonly statusSchema = egressStatusSchema;
  readonly metrics: Metric[] = [];
  readonly routes: LocalRoute[];
  private kernel?: EgressKernel;
  private off?: string;
  private error?: string;
  private plan?: EgressPlan;

  constructor(
    private readonly ctx: FeatureContext,
    private readonly deps: EgressFeatureDeps,
  ) {
    this.routes = [
      { method: "GET", path: "/v1/egress", handle: ({ res }) => sendJson(res, 200, this.view()) },
    ];
  }

  async start(): Promise<void> {
    const { pinDir } = this.deps;
    if (!pinDir || !existsSync(path.join(pinDir, "mdp_egw_policy"))) {
      this.off = "no eBPF datapath with the egress gateway: egress policies are not enforced here";
      return;
    }
    this.kernel = EgressKernel.open(pinDir);
  }

  async apply(next: NodeDesiredState): Promise<void> {
    try {
      const plan = planEgress(next.egressGateway, next.endpoints, {
        nodeName: next.node.name,
        interfaceAddresses: this.deps.interfaceAddresses ?? localInterfaceAddresses,
        interfaceOf: localInterfaceOf,
      });
      if (this.kernel) {
        const { written, removed } = this.kernel.apply(plan.state);
        if (written || removed) this.ctx.log.info({ written, removed }, "egress: maps updated");
        // Maps first: the uplink programs find this node's translations as they start.
        const uplinks = [
          ...new Set(plan.policies.map((p) => p.uplink).filter((u): u is string => u !== null)),
        ];
        await this.deps.setUplinks?.(uplinks.sort());
      }
      this.plan = plan;
      this.error = undefined;
    } catch (err) {
      this.error = (err as Error).message;
      throw new Error(`egress: ${this.error}`);
    }
  }

  private snat(): EgressSnatEntry[] {
    return this.kernel?.snatEntries() ?? [];
  }

  private detail() {
    const perPolicy = new Map<number, number>();
    for (const e of this.snat()) perPolicy.set(e.policyId, (perPolicy.get(e.policyId) ?? 0) + 1);
    return {
      policies: (this.plan?.policies ?? []).map((p) => ({
        policy: p.policy,
        role: p.role,
        mode: p.mode,
        activeGateway: p.activeGateway,
        egressIP: p.egressIP,
        selectedLocalPods: p.selectedLocalPods.length,
        missingLocalPods: p.missingLocalPods.length,
        snatEntries: perPolicy.get(p.policyId) ?? 0,
        problems: p.problems,
      })),
      counters: this.kernel?.counters() ?? {},
    };
  }

  private view() {
    const snat = this.snat();
    const names = new Map((this.plan?.policies ?? []).map((p) => [p.policyId, p.policy]));
    return {
      ...this.detail(),
      off: this.off ?? null,
      error: this.error ?? null,
      selectedPods: Object.fromEntries(
        (this.plan?.policies ?? []).map((p) => [p.policy, p.selectedLocalPods]),
      ),
      snat: snat.slice(0, SNAT_LIST_MAX).map((e) => ({ ...e, policy: names.get(e.policyId) ?? null })),
      snatTotal: snat.length,
      datapath: this.kernel?.read() ?? null,
    };
  }

  status(): ComponentStatus | undefined {
    if (this.off || !this.kernel)
      return { component: this.component, state: "unknown", message: this.off ?? "egress maps not open yet" };
    const d = this.detail();
    const troubled = d.policies.filter((p) => p.problems.length > 0).length;
    return {
      component: this.component,
      state: this.error ? "error" : troubled ? "degraded" : "ok",
      message:
        this.error ??
        `${d.policies.length} egress polic${d.policies.length === 1 ? "y" : "ies"}${troubled ? `, ${troubled} with problems` : ""}`,
      detail: d,
    };
  }

  lastError(): string | undefined {
    return this.error;
  }

  statusView(): Record<string, unknown> {
    return {
      egress: this.off
        ? { off: this.off }
        : { policies: this.plan?.policies.length ?? 0, error: this.error ?? null },
    };
  }

  async close(): Promise<void> {
    this.kernel?.close();
    this.kernel = undefined;
  }
}

type View = ReturnType<EgressFeature["view"]>;

const PROTO: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6" };

export const egressCli: FeatureCli = {
  commands: [
    {
      name: "egress",
      usage: "  egress [policies|snat] [--json]       egress gateway policies on this node, its translations",
      async run(call) {
        const sub = call.positionals[0] ?? "policies";
        const v = (await call.get("/v1/egress")) as View;
        if (sub === "policies") {
          if (call.json)
            call.out(
              JSON.stringify(
                { off: v.off, error: v.error, policies: v.policies, counters: v.counters },
                null,
                2,
              ),
            );
          else {
            if (v.off) call.out(v.off);
            if (v.error) call.out(`error: ${v.error}`);
            call.out(
              table(
                ["POLICY", "ROLE", "IPV4", "IPV6", "GATEWAY", "EGRESS IP", "PODS", "SNAT", "PROBLEMS"],
                v.policies.map((p) => [
                  p.policy,
                  p.role,
                  p.mode.ipv4 ?? "-",
                  p.mode.ipv6 ?? "-",
                  p.activeGateway ?? "none",
                  p.egressIP ?? "-",
                  String(p.selectedLocalPods),
                  String(p.snatEntries),
                  p.problems.join("; ") || "-",
                ]),
              ),
            );
          }
          return 0;
        }
        if (sub === "snat") {
          if (call.json) call.out(JSON.stringify(v.snat, null, 2));
          else {
            call.out(
              table(
                ["POLICY", "PROTO", "POD", "REMOTE", "EGRESS"],
                v.snat.map((e) => [
                  e.policy ?? String(e.policyId),
                  PROTO[e.protocol] ?? String(e.protocol),
                  `${e.pod}:${e.podPort}`,
                  `${e.remote}:${e.remotePort}`,
                  `${e.egressIP}:${e.egressPort}`,
                ]),
              ),
            );
            if (v.snatTotal > v.snat.length) call.out(`(${v.snatTotal - v.snat.length} more)`);
          }
          return 0;
        }
        call.out("usage: meridian-agent egress [policies|snat] [--json]");
        return 2;
      },
    },
  ],
  statusRows: (s) => {
    const e = (s as unknown as { egress?: { off?: string; policies?: number; error?: string | null } })
      .egress;
    if (!e) return [];
    if (e.off) return [["egress", e.off]];
    return [["egress", e.error ? `error: ${e.error}` : `${e.policies ?? 0} policies`]];
  },
};
