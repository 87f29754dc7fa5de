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
//
// Failover (health.ts): the feature probes the gateways of the policies it takes part in and
// answers others' probes. When a gateway's health changes it plans again from the desired state
// it holds, with the first healthy gateway of the control plane's order, and rewrites the gateway
// map at once (one entry per policy and family) without waiting for the control plane; the
// change and its time are in the status it reports, so the control plane's view converges.
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
import { EgressHealth, LinkWatch } from "./health.js";
import { EgressKernel, type EgressSnatEntry } from "./kernel.js";
import { type EgressPlan, planEgress } from "./plan.js";

/** A change of the gateway a policy's new connections use from this node, seen here. */
export interface EgressFailover {
  at: string;
  from: string | null;
  to: string | null;
  /** Why `from` was left: it timed out, said it cannot serve, or (failback) it is healthy again. */
  reason: string;
  /** From `from`'s last answer to the datapath's switch: the failover time as this node saw it. */
  durationMs: number | null;
}

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
  /** The UDP port gateway health probes use (default EGRESS_HEALTH_PORT; tests take 0). */
  healthPort?: number;
  /** Answer and probe on this one address only (tests on loopback). */
  healthBind?: string;
  /** Probe other gateways and watch links (default true; unit tests without a network turn it off). */
  healthChecks?: boolean;
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
  private desired?: NodeDesiredState;
  private health?: EgressHealth;
  private links?: LinkWatch;
  /** Applies one at a time: the control plane's and the health checks' re-plans. */
  private applying: Promise<void> = Promise.resolve();
  private replanQueued = false;
  private healthOff?: string;
  private readonly failovers = new Map<string, { last: EgressFailover; count: number }>();

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
    if (this.deps.healthChecks === false) return;
    this.links = new LinkWatch(() => this.replanSoon());
    this.links.start();
    this.health = new EgressHealth({
      nodeName: this.ctx.config.nodeName,
      port: this.deps.healthPort,
      bind: this.deps.healthBind,
      cannotServe: () => (this.plan?.policies ?? []).filter((p) => p.cannotServe).map((p) => p.policy),
      onChange: () => this.replanSoon(),
      log: (msg, err) => this.ctx.log.warn({ err }, msg),
    });
    try {
      await this.health.start();
    } catch (err) {
      // Without probes the control plane's first gateway is used, as before failover existed.
      this.healthOff = `gateway health checks are off (${(err as Error).message}): no failover`;
      this.ctx.log.error({ err }, "egress: gateway health checks are off");
      this.health.close();
      this.health = undefined;
    }
  }

  /** The UDP port this agent answers gateway probes on. */
  healthPort(): number | undefined {
    return this.health?.port();
  }

  async apply(next: NodeDesiredState): Promise<void> {
    this.desired = next;
    const run = this.applying.then(() => this.write(next));
    this.applying = run.catch(() => undefined);
    return run;
  }

  /** A gateway's health changed: plan again from the state held, at once but one at a time. */
  private replanSoon(): void {
    if (this.replanQueued || !this.desired) return;
    this.replanQueued = true;
    this.applying = this.applying.then(async () => {
      this.replanQueued = false;
      if (!this.desired) return;
      await this.write(this.desired).catch((err) =>
        this.ctx.log.error({ err }, "egress: re-planning after a gateway health change failed"),
      );
    });
  }

  private async write(next: NodeDesiredState): Promise<void> {
    try {
      const health = this.health;
      health?.setTargets(
        (next.egressGateway ?? []).flatMap((p) =>
          p.gateways
            .filter((g) => g.nodeIP !== undefined)
            .map((g) => ({
              node: g.node,
              address: g.nodeIP!.split("/")[0]!,
              intervalMs: p.ha.healthCheckIntervalMs,
              timeoutMs: p.ha.healthCheckTimeoutMs,
            })),
        ),
      );
      const plan = planEgress(next.egressGateway, next.endpoints, {
        nodeName: next.node.name,
        interfaceAddresses: this.deps.interfaceAddresses ?? localInterfaceAddresses,
        interfaceOf: localInterfaceOf,
        ...(health
          ? {
              healthy: (policy, g) =>
                g.nodeIP
                  ? health.health(g.node, g.nodeIP.split("/")[0]!, policy)
                  : { healthy: false, reason: "no node address" },
            }
          : {}),
        ...(this.links ? { linkUp: (ifname: string) => this.links!.isUp(ifname) } : {}),
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
      this.noteFailovers(plan);
      this.plan = plan;
      this.error = undefined;
    } catch (err) {
      this.error = (err as Error).message;
      throw new Error(`egress: ${this.error}`);
    }
  }

  /** Record where a policy's active gateway moved since the last plan (not its first plan). */
  private noteFailovers(plan: EgressPlan): void {
    const before = new Map((this.plan?.policies ?? []).map((p) => [p.policy, p]));
    for (const p of plan.policies) {
      const was = before.get(p.policy);
      if (!was || was.activeGateway === p.activeGateway) continue;
      const left = was.activeGateway ? p.gateways.find((g) => g.node === was.activeGateway) : undefined;
      const fromIP = was.activeGateway
        ? this.desired?.egressGateway
            .find((x) => x.policy === p.policy)
            ?.gateways.find((g) => g.node === was.activeGateway)
            ?.nodeIP?.split("/")[0]
        : undefined;
      const lastAckAt =
        fromIP && was.activeGateway
          ? this.health?.health(was.activeGateway, fromIP, p.policy).lastAckAt
          : undefined;
      const now = Date.now();
      const last: EgressFailover = {
        at: new Date(now).toISOString(),
        from: was.activeGateway,
        to: p.activeGateway,
        reason: !left
          ? "no longer a gateway of the policy"
          : left.healthy
            ? "failback: an earlier gateway is healthy again"
            : (left.reason ?? "unhealthy"),
        durationMs: left && !left.healthy && lastAckAt !== undefined ? now - lastAckAt : null,
      };
      this.failovers.set(p.policy, { last, count: (this.failovers.get(p.policy)?.count ?? 0) + 1 });
      this.ctx.log.warn({ policy: p.policy, ...last }, "egress: the policy's active gateway moved");
    }
  }

  private snat(): EgressSnatEntry[] {
    return this.kernel?.snatEntries() ?? [];
  }

  /**
   * `lastCheck` only for the local view (`meridian-agent egress`): in the status it would change
   * with every probe and send a report every status check; health changes are reported as such.
   */
  private detail(withLastCheck = false) {
    const perPolicy = new Map<number, number>();
    for (const e of this.snat()) perPolicy.set(e.policyId, (perPolicy.get(e.policyId) ?? 0) + 1);
    return {
      policies: (this.plan?.policies ?? []).map((p) => ({
        policy: p.policy,
        role: p.role,
        mode: p.mode,
        activeGateway: p.activeGateway,
        intendedGateway: p.intendedGateway,
        gateways: p.gateways.slice(0, 64).map((g) => {
          const gw = this.desired?.egressGateway
            .find((x) => x.policy === p.policy)
            ?.gateways.find((x) => x.node === g.node);
          const ack =
            withLastCheck && gw?.nodeIP && g.node !== this.ctx.config.nodeName
              ? this.health?.health(g.node, gw.nodeIP.split("/")[0]!, p.policy).lastAckAt
              : undefined;
          return {
            node: g.node,
            healthy: g.healthy,
            ...(g.reason ? { reason: g.reason } : {}),
            ...(ack !== undefined ? { lastCheck: new Date(ack).toISOString() } : {}),
          };
        }),
        failovers: this.failovers.get(p.policy)?.count ?? 0,
        lastFailover: this.failovers.get(p.policy)?.last ?? null,
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
      ...this.detail(true),
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
      state: this.error ? "error" : troubled || this.healthOff ? "degraded" : "ok",
      message:
        this.error ??
        `${d.policies.length} egress polic${d.policies.length === 1 ? "y" : "ies"}${troubled ? `, ${troubled} with problems` : ""}${this.healthOff ? `; ${this.healthOff}` : ""}`,
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
    this.health?.close();
    this.links?.close();
    this.health = undefined;
    this.links = undefined;
    await this.applying;
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
                {
                  off: v.off,
                  error: v.error,
                  policies: v.policies,
                  counters: v.counters,
                  datapath: v.datapath,
                },
                null,
                2,
              ),
            );
          else {
            if (v.off) call.out(v.off);
            if (v.error) call.out(`error: ${v.error}`);
            call.out(
              table(
                [
                  "POLICY",
                  "ROLE",
                  "IPV4",
                  "IPV6",
                  "GATEWAY",
                  "HEALTH",
                  "LAST FAILOVER",
                  "EGRESS IP",
                  "PODS",
                  "SNAT",
                  "PROBLEMS",
                ],
                v.policies.map((p) => [
                  p.policy,
                  p.role,
                  p.mode.ipv4 ?? "-",
                  p.mode.ipv6 ?? "-",
                  p.activeGateway ?? "none",
                  p.gateways
                    .map((g) => `${g.node} ${g.healthy ? "up" : `down (${g.reason ?? "?"})`}`)
                    .join(", ") || "-",
                  p.lastFailover
                    ? `${p.lastFailover.from ?? "none"} -> ${p.lastFailover.to ?? "none"} at ${p.lastFailover.at}${
                        p.lastFailover.durationMs !== null ? ` (${p.lastFailover.durationMs} ms)` : ""
                      }`
                    : "-",
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
