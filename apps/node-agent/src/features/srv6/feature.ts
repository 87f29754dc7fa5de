// The SRv6 subsystem (component "srv6"): the node as an SRv6 L3VPN PE. It writes the datapath's
// SRv6 maps (bpf/lib/srv6.h, through kernel.ts) from the desired state's `srv6` section — the
// VRFs this node serves with their SIDs and member endpoints, static policies — and from the BGP
// subsystem's received VPN routes whose route targets a VRF imports (plan.ts: static wins over
// BGP). Every write is all or nothing; a failed one keeps the last good state in the maps. It
// hands the VRFs' exported routes (member pods' addresses, plan.ts) to the BGP subsystem.
import { existsSync } from "node:fs";
import path from "node:path";
import { SRV6_REPORTED_POLICIES, srv6DetailSchema } from "@meridian/model";
import { ifNameToIndex } from "@meridian/native";
import type { Metric } from "prom-client";
import { type LocalRoute, sendJson } from "../../agent/local-api.js";
import type { FeatureCli } from "../../cli/command.js";
import { table } from "../../cli/table.js";
import type { ComponentStatus, NodeDesiredState } from "../../sync/channel.js";
import { type AdvertisedRoute, vrfRouteSrv6 } from "../bgp/plan.js";
import { type AgentFeature, componentStatusSchema, type FeatureContext } from "../feature.js";
import { Srv6Kernel } from "./kernel.js";
import { type PlanVpnRoute, planSrv6, type Srv6Plan, type Srv6Section } from "./plan.js";

export const srv6StatusSchema = componentStatusSchema("srv6", srv6DetailSchema);

export interface Srv6FeatureDeps {
  /** The policy datapath's pin directory, when it is the eBPF one (else the feature stays off). */
  pinDir?: string;
  /** Received VPN routes (the BGP subsystem), and a way to hear when they change. */
  vpnRoutes?(): PlanVpnRoute[];
  onRoutesChanged?(listener: () => void): void;
  /** Advertises the VRFs' routes (the BGP subsystem's `setRoutes("srv6", …)`); replaces the last set. */
  exportRoutes?(routes: AdvertisedRoute[]): Promise<void>;
  /** The node's SRv6 source address; default: its first locator's ::1. */
  source?: string;
  /** Uplink MTU for the datapath's oversize check; default 0 (none). */
  mtu?: number;
}

export class Srv6Feature implements AgentFeature {
  readonly component = "srv6";
  readonly sections = ["srv6", "endpoints"] as const;
  readonly refusesStateOnFailure = false;
  readonly statusSchema = srv6StatusSchema;
  readonly metrics: Metric[] = [];
  readonly routes: LocalRoute[];
  private kernel?: Srv6Kernel;
  private off?: string;
  private error?: string;
  private section?: Srv6Section;
  private plan?: Srv6Plan;
  private pending = false;
  /** The exported routes last handed to BGP (JSON), so an unchanged set is not re-sent. */
  private lastExport = "[]";

  constructor(
    private readonly ctx: FeatureContext,
    private readonly deps: Srv6FeatureDeps,
  ) {
    this.routes = [{ method: "GET", path: "/v1/srv6", handle: ({ res }) => sendJson(res, 200, this.view()) }];
  }

  async start(): Promise<void> {
    const { pinDir } = this.deps;
    if (!pinDir || !existsSync(path.join(pinDir, "mdp_srv6_sid"))) {
      this.off = "no eBPF datapath with SRv6: VRFs are not served";
      return;
    }
    this.kernel = Srv6Kernel.open(pinDir);
    this.deps.onRoutesChanged?.(() => this.routesChanged());
  }

  private routesChanged(): void {
    if (this.pending || !this.section) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      try {
        this.write();
      } catch (err) {
        this.error = (err as Error).message;
        this.ctx.log.error({ err }, "srv6: BGP routes not applied; last good state kept");
      }
    });
  }

  async apply(next: NodeDesiredState): Promise<void> {
    this.section = (next as { srv6?: Srv6Section }).srv6;
    try {
      this.write();
    } catch (err) {
      this.error = (err as Error).message;
      throw new Error(`srv6: ${this.error}`);
    }
  }

  private write(): void {
    const plan = planSrv6(
      this.section,
      (ref) => {
        const ep = this.ctx.endpoint(ref);
        if (!ep) return undefined;
        return {
          ifindex: ifNameToIndex(ep.hostIfname),
          addresses: ep.addresses.map((a) => a.split("/")[0] ?? a),
          mac: ep.mac,
          hostMac: ep.hostMac,
        };
      },
      this.deps.vpnRoutes?.() ?? [],
      { ...(this.deps.source ? { source: this.deps.source } : {}), mtu: this.deps.mtu ?? 0 },
    );
    if (this.kernel) this.kernel.apply(plan.state);
    this.plan = plan;
    this.error = undefined;
    this.export(plan);
  }

  private export(plan: Srv6Plan): void {
    // Only when the datapath serves the SIDs: a route whose SID we cannot decapsulate is a black hole.
    const routes: AdvertisedRoute[] = this.kernel
      ? plan.exported.map((r) => ({
          prefix: r.prefix,
          routeDistinguisher: r.routeDistinguisher,
          routeTargets: r.routeTargets,
          srv6: vrfRouteSrv6(r.sid, r.behavior, this.section),
          origin: `srv6 vrf ${r.vrf}`,
        }))
      : [];
    const text = JSON.stringify(routes);
    if (text === this.lastExport || !this.deps.exportRoutes) return;
    this.lastExport = text;
    this.deps.exportRoutes(routes).catch((err) => {
      this.lastExport = "";
      this.ctx.log.error({ err }, "srv6: VRF routes not handed to BGP");
    });
  }

  private detail() {
    const s = this.section;
    const p = this.plan;
    const counters: Record<string, number> = {};
    for (const c of this.kernel?.counters() ?? []) counters[c.name] = Number(c.packets);
    return {
      source: p?.state.source ?? null,
      locators: (s?.locators ?? []).map((l) => l.locator),
      sids: (s?.vrfs ?? []).map((v) => ({ sid: v.sid, vrf: v.name, behavior: v.behavior })),
      vrfs: (s?.vrfs ?? []).map((v) => ({
        name: v.name,
        vrfID: v.vrfID,
        members: p?.state.members.filter((m) => m.vrfId === v.vrfID).length ?? 0,
        staticPolicies: p?.policies.filter((x) => x.vrf === v.name && x.source === "static").length ?? 0,
        bgpPolicies: p?.policies.filter((x) => x.vrf === v.name && x.source === "bgp").length ?? 0,
        exported: p?.exported.filter((x) => x.vrf === v.name).length ?? 0,
        ...(v.routeDistinguisher ? { routeDistinguisher: v.routeDistinguisher } : {}),
        importRouteTargets: v.importRouteTargets,
        exportRouteTargets: v.exportRouteTargets ?? [],
      })),
      policies: (p?.policies ?? []).slice(0, SRV6_REPORTED_POLICIES).map((x) => ({
        vrf: x.vrf,
        destination: x.destination,
        segments: x.segments,
        source: x.source,
        ...(x.peer ? { peer: x.peer } : {}),
        ...(x.rd ? { rd: x.rd } : {}),
        ...(x.stale ? { stale: true } : {}),
      })),
      exported: (p?.exported ?? []).slice(0, SRV6_REPORTED_POLICIES).map((x) => ({
        vrf: x.vrf,
        prefix: x.prefix,
        routeDistinguisher: x.routeDistinguisher,
        routeTargets: x.routeTargets,
        sid: x.sid,
      })),
      exportSkipped: p?.exportSkipped ?? [],
      counters,
    };
  }

  private view() {
    return {
      ...this.detail(),
      off: this.off ?? null,
      error: this.error ?? null,
      policies: this.plan?.policies ?? [],
      skipped: this.plan?.skipped ?? [],
      missingMembers: this.plan?.missingMembers ?? [],
      datapath: this.kernel?.read() ?? null,
    };
  }

  status(): ComponentStatus | undefined {
    if (this.off || !this.kernel)
      return { component: this.component, state: "unknown", message: this.off ?? "SRv6 maps not open yet" };
    return {
      component: this.component,
      state: this.error ? "error" : "ok",
      message: this.error ?? `${this.section?.vrfs.length ?? 0} VRF(s)`,
      detail: this.detail(),
    };
  }

  lastError(): string | undefined {
    return this.error;
  }

  statusView(): Record<string, unknown> {
    return {
      srv6: this.off
        ? { off: this.off }
        : { vrfs: this.section?.vrfs.length ?? 0, error: this.error ?? null },
    };
  }

  async close(): Promise<void> {
    this.kernel?.close();
    this.kernel = undefined;
  }
}

type View = ReturnType<Srv6Feature["view"]>;

export const srv6Cli: FeatureCli = {
  commands: [
    {
      name: "srv6",
      usage: "  srv6 sids|vrfs|policies [--json]       SRv6 SIDs, VRFs, SR policies (static and BGP)",
      async run(call) {
        const sub = call.positionals[0];
        const v = (await call.get("/v1/srv6")) as View;
        if (sub === "sids") {
          if (call.json) call.out(JSON.stringify(v.datapath?.sids ?? [], null, 2));
          else
            call.out(
              table(
                ["SID", "VRF", "BEHAVIOR"],
                v.sids.map((s) => [s.sid, s.vrf, s.behavior]),
              ),
            );
          return 0;
        }
        if (sub === "vrfs") {
          if (call.json) call.out(JSON.stringify(v.vrfs, null, 2));
          else
            call.out(
              table(
                ["VRF", "ID", "RD", "IMPORT RT", "EXPORT RT", "MEMBERS", "STATIC", "BGP", "EXPORTED"],
                v.vrfs.map((x) => [
                  x.name,
                  String(x.vrfID),
                  x.routeDistinguisher ?? "-",
                  x.importRouteTargets?.join(",") || "-",
                  x.exportRouteTargets?.join(",") || "-",
                  String(x.members),
                  String(x.staticPolicies),
                  String(x.bgpPolicies),
                  String(x.exported ?? 0),
                ]),
              ),
            );
          if (!call.json && v.exported.length > 0)
            call.out(
              `\nExported VPN routes:\n${table(
                ["VRF", "PREFIX", "RD", "ROUTE TARGETS", "SID"],
                v.exported.map((r) => [
                  r.vrf,
                  r.prefix,
                  r.routeDistinguisher,
                  r.routeTargets.join(","),
                  r.sid,
                ]),
              )}`,
            );
          if (!call.json)
            for (const s of v.exportSkipped) call.out(`VRF ${s.vrf} exports nothing: ${s.reason}`);
          return 0;
        }
        if (sub === "policies") {
          if (call.json) call.out(JSON.stringify(v.policies, null, 2));
          else
            call.out(
              table(
                ["VRF", "DESTINATION", "SEGMENTS", "SOURCE", "PEER", "RD"],
                v.policies.map((p) => [
                  p.vrf,
                  p.destination,
                  p.segments.join(","),
                  p.source === "bgp" && p.stale ? "bgp (stale)" : p.source,
                  p.peer ?? "-",
                  p.rd ?? "-",
                ]),
              ),
            );
          if (!call.json)
            for (const s of v.skipped) call.out(`not imported: ${s.prefix} from ${s.peer}: ${s.reason}`);
          return 0;
        }
        call.out("usage: meridian-agent srv6 sids|vrfs|policies [--json]");
        return 2;
      },
    },
  ],
};
