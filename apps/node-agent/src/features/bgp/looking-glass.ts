// The looking glass the agent reports to the control plane (agent.reportBgpRoutes): per peer,
// direction and family the table's total and its first routes by prefix, with their attributes in
// the API's shape (packages/model/src/bgp/looking-glass-schemas.ts). Pure apart from reading the
// controller, so the sync loop decides when to build and send it.

import { canonicalPrefix, serviceSid } from "@meridian/bgp";
import type { BgpFamily } from "@meridian/model";
import {
  LOOKING_GLASS_ROUTE_LIMIT,
  type LookingGlassDirection,
  type LookingGlassPeer,
  type LookingGlassRoute as ReportedRoute,
} from "@meridian/model";
import ipaddr from "ipaddr.js";
import type { LookingGlassRoute } from "./controller.js";
import { type AdvertisedRoute, controlPlaneRoutes, type DesiredBgp, type DesiredSrv6 } from "./plan.js";
import type { BgpStatus } from "./status.js";

/** What the snapshot reads: BgpController has exactly these. */
export interface LookingGlassReader {
  status(): BgpStatus;
  receivedRoutes(peer: string, family?: string): LookingGlassRoute[];
  advertisedRoutes(peer: string, family?: string): LookingGlassRoute[];
  advertisementReasons(peer: string): Map<string, string[]>;
}

const DIRECTIONS: LookingGlassDirection[] = ["received", "advertised"];
const ORIGINS = ["igp", "egp", "incomplete"] as const;

/** Every peer's tables, each cut to its first `limit` routes by prefix (the API's bound). */
export function lookingGlassSnapshot(
  bgp: LookingGlassReader,
  limit: number = LOOKING_GLASS_ROUTE_LIMIT,
): LookingGlassPeer[] {
  return bgp.status().peers.map((p) => {
    const reasons = bgp.advertisementReasons(p.name);
    return {
      peer: p.name,
      address: p.address,
      tables: DIRECTIONS.flatMap((direction) =>
        p.configured.families.map((family) => {
          let routes: LookingGlassRoute[] = [];
          try {
            routes =
              direction === "received"
                ? bgp.receivedRoutes(p.name, family)
                : bgp.advertisedRoutes(p.name, family);
          } catch {
            // The speaker is not running (no router ID, failed apply): an empty table, as status says.
          }
          return {
            direction,
            family: family as BgpFamily,
            total: routes.length,
            routes: firstByPrefix(routes, limit).map((r) =>
              toReported(r, direction === "advertised" ? reasons : undefined),
            ),
          };
        }),
      ),
    };
  });
}

/** Sorted by RD, then address numerically (10.2/16 before 10.10/16), then length. */
function firstByPrefix(routes: LookingGlassRoute[], limit: number): LookingGlassRoute[] {
  const keyed = routes.map((r) => [sortKey(r), r] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return keyed.slice(0, limit).map(([, r]) => r);
}

function sortKey(r: LookingGlassRoute): string {
  const [addr = "", len = "0"] = r.prefix.split("/");
  let hex = addr;
  try {
    hex = ipaddr
      .parse(addr)
      .toByteArray()
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
  } catch {}
  return `${r.rd ?? ""}\u0000${hex.length}${hex}${len.padStart(3, "0")}`;
}

const clip = <T>(xs: readonly T[], n: number): T[] => xs.slice(0, n);

function toReported(r: LookingGlassRoute, reasons?: Map<string, string[]>): ReportedRoute {
  // RFC 9252 transposition: the function bits travel in the label; show the SID a router programs.
  const sid = serviceSid(r)?.sid ?? r.prefixSid?.srv6L3Service?.sids[0]?.sid;
  const why = reasons?.get(`${r.rd ?? ""}|${canonicalPrefix(r.prefix)}`);
  // Clipped to the API's bounds: one odd route must not get the whole report refused.
  return {
    prefix: r.prefix,
    ...(r.rd ? { rd: r.rd } : {}),
    ...(r.labels?.length ? { labels: clip(r.labels, 16) } : {}),
    nextHops: clip(r.nextHops, 8),
    ...(r.origin !== undefined && ORIGINS[r.origin] ? { origin: ORIGINS[r.origin] } : {}),
    asPath: clip(r.asPath, 1024),
    ...(r.med !== undefined ? { med: r.med } : {}),
    ...(r.localPref !== undefined ? { localPref: r.localPref } : {}),
    communities: clip(r.communities, 1024),
    largeCommunities: clip(r.largeCommunities, 1024),
    extendedCommunities: clip(r.extendedCommunities, 1024),
    ...(sid ? { sid } : {}),
    stale: !!r.stale,
    ...(why?.length ? { reason: why.join(", ").slice(0, 500) } : {}),
  };
}

/**
 * Why each route goes to `peer`: "<rd>|<prefix>" → the advertisements (desired state) and agent
 * features (`setRoutes` sources) that pick it for this peer.
 */
export function advertisementReasons(
  desired: DesiredBgp,
  sources: Map<string, AdvertisedRoute[]>,
  srv6: DesiredSrv6 | undefined,
  peer: string,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (r: AdvertisedRoute, fallback: string) => {
    if (r.peers && !r.peers.includes(peer)) return;
    const key = `${r.routeDistinguisher ?? ""}|${canonicalPrefix(r.prefix)}`;
    const why = r.origin ?? fallback;
    const list = out.get(key);
    if (!list) out.set(key, [why]);
    else if (!list.includes(why)) list.push(why);
  };
  for (const inst of desired.instances)
    for (const r of controlPlaneRoutes(inst, srv6)) add(r, "control plane");
  for (const [source, routes] of sources) for (const r of routes) add(r, source);
  return out;
}
