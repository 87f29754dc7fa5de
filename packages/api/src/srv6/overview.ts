// The console's SRv6 page (srv6.overview): the intent — each node's locators and each VRF's SID as
// compiled from the stored allocations, the static policies — beside what each node's agent last
// reported in its `srv6` component: the SIDs and policies in its datapath (BGP-learned ones with
// the peer, RD and SID they came from), the VPN routes it exports, its VRFs' member counts
// and its packet counters (forwarding and one per drop reason). Nothing is inferred: a node whose
// agent never reported shows as not reported.
import type { Db } from "@meridian/db";
import { compileSrv6, parseComponentDetail } from "@meridian/model";
import { z } from "zod";
import { loadSnapshot } from "../agent/snapshot";
import { isStale } from "../status/service";

/** Counters of forwarded packets; every other counter the datapath reports is a drop reason. */
export const SRV6_FORWARD_COUNTERS = ["encapsulated", "decapsulated", "transit"] as const;

const reportedPolicy = z.object({
  node: z.string(),
  destination: z.string(),
  segments: z.array(z.string()),
  source: z.string(),
  peer: z.string().nullable(),
  /** BGP-learned: the route distinguisher it came with; stale while graceful restart holds it. */
  rd: z.string().nullable(),
  stale: z.boolean(),
});

const exportedRoute = z.object({
  node: z.string(),
  prefix: z.string(),
  routeDistinguisher: z.string(),
  routeTargets: z.array(z.string()),
  sid: z.string(),
});

export const srv6OverviewOutput = z.object({
  at: z.date(),
  nodes: z.array(
    z.object({
      name: z.string(),
      /** The srv6 component's state as last reported; "unknown" when it never reported. */
      state: z.string(),
      message: z.string(),
      reported: z.boolean(),
      updatedAt: z.date().nullable(),
      stale: z.boolean(),
      /** Locators the control plane allocated to the node (intent). */
      locators: z.array(z.string()),
      /** What the agent reports. */
      reportedLocators: z.array(z.string()),
      source: z.string().nullable(),
      forwarded: z.array(z.object({ name: z.string(), packets: z.number() })),
      drops: z.array(z.object({ reason: z.string(), packets: z.number() })),
      /** Intent the compiler could not apply on this node (a full pool, a static SID outside). */
      problems: z.array(z.string()),
    }),
  ),
  vrfs: z.array(
    z.object({
      name: z.string(),
      nodes: z.array(
        z.object({
          node: z.string(),
          /** The SID compiled for the VRF on the node. */
          sid: z.string(),
          members: z.number().int(),
          /** What the agent reports for the VRF: its SID in the datapath and counts; null if nothing. */
          reported: z
            .object({
              sid: z.string().nullable(),
              members: z.number().int(),
              staticPolicies: z.number().int(),
              bgpPolicies: z.number().int(),
            })
            .nullable(),
        }),
      ),
      /** SR policies the agents report in the VRF's datapath (static and BGP-learned). */
      policies: z.array(reportedPolicy),
      /** VPN routes the agents advertise for the VRF (its member pods, with the node's SID). */
      exported: z.array(exportedRoute),
    }),
  ),
  /** Per static policy (by name), the nodes whose agent reports it installed. */
  staticPolicies: z.array(z.object({ name: z.string(), installedOn: z.array(z.string()) })),
});
export type Srv6Overview = z.infer<typeof srv6OverviewOutput>;

export async function srv6Overview(db: Db, now = new Date()): Promise<Srv6Overview> {
  const [snapshot, rows] = await Promise.all([
    loadSnapshot(db),
    db.node.findMany({
      where: { joinState: { not: "revoked" } },
      orderBy: { name: "asc" },
      include: { components: { where: { component: "srv6" } } },
    }),
  ]);
  const intended = new Map(snapshot.nodes.map((n) => [n.name, compileSrv6(snapshot, n.name)]));
  const reports = new Map(
    rows.map((n) => {
      const c = n.components[0];
      return [
        n.name,
        { row: n, component: c, detail: c ? parseComponentDetail("srv6", c.detail) : undefined },
      ];
    }),
  );

  const nodes = rows.map((n) => {
    const { component: c, detail } = reports.get(n.name)!;
    const compiled = intended.get(n.name);
    const counters = Object.entries(detail?.counters ?? {});
    const forward = new Set<string>(SRV6_FORWARD_COUNTERS);
    return {
      name: n.name,
      state: c?.state ?? "unknown",
      message: c ? c.message : "no SRv6 status reported by this node's agent",
      reported: Boolean(c),
      updatedAt: c?.updatedAt ?? null,
      stale: isStale(n.lastHeartbeatAt, now.getTime()),
      locators: (compiled?.locators ?? []).map((l) => l.locator),
      reportedLocators: detail?.locators ?? [],
      source: detail?.source ?? null,
      forwarded: detail
        ? SRV6_FORWARD_COUNTERS.map((name) => ({ name, packets: detail.counters[name] ?? 0 }))
        : [],
      drops: counters
        .filter(([name]) => !forward.has(name))
        .map(([reason, packets]) => ({ reason, packets }))
        .sort((a, b) => b.packets - a.packets || (a.reason < b.reason ? -1 : 1)),
      problems: (compiled?.problems ?? []).map((p) => p.message),
    };
  });

  const vrfs = [...snapshot.srv6Vrfs]
    .sort((a, b) => a.spec.vrfID - b.spec.vrfID || (a.name < b.name ? -1 : 1))
    .map((vrf) => ({
      name: vrf.name,
      nodes: [...intended].flatMap(([node, compiled]) => {
        const v = compiled.vrfs.find((x) => x.name === vrf.name);
        if (!v) return [];
        const detail = reports.get(node)?.detail;
        const r = detail?.vrfs.find((x) => x.name === vrf.name);
        return [
          {
            node,
            sid: v.sid,
            members: v.memberEndpoints.length,
            reported: r
              ? {
                  sid: detail!.sids.find((s) => s.vrf === vrf.name)?.sid ?? null,
                  members: r.members,
                  staticPolicies: r.staticPolicies,
                  bgpPolicies: r.bgpPolicies,
                }
              : null,
          },
        ];
      }),
      policies: [...reports].flatMap(([node, r]) =>
        (r.detail?.policies ?? [])
          .filter((p) => p.vrf === vrf.name)
          .map((p) => ({
            node,
            destination: p.destination,
            segments: p.segments,
            source: p.source,
            peer: p.peer ?? null,
            rd: p.rd ?? null,
            stale: p.stale ?? false,
          })),
      ),
      exported: [...reports].flatMap(([node, r]) =>
        (r.detail?.exported ?? [])
          .filter((e) => e.vrf === vrf.name)
          .map((e) => ({
            node,
            prefix: e.prefix,
            routeDistinguisher: e.routeDistinguisher,
            routeTargets: e.routeTargets,
            sid: e.sid,
          })),
      ),
    }));

  const staticPolicies = snapshot.srv6Policies.map((p) => ({
    name: p.name,
    installedOn: [...reports]
      .filter(([, r]) =>
        (r.detail?.policies ?? []).some(
          (x) =>
            x.source === "static" &&
            x.vrf === p.spec.vrf &&
            x.destination === p.spec.destination &&
            x.segments.join(",") === p.spec.segments.join(","),
        ),
      )
      .map(([node]) => node),
  }));

  return { at: now, nodes, vrfs, staticPolicies };
}
