// Per-peer BGP status as plain JSON for the control plane, the CLI and /metrics. The report carries
// it as the "bgp" component's `detail`, whose schema the API and the console share with us
// (@meridian/model, bgp/session-schemas.ts): the API refuses a report that does not fit it.

import type { Family, PeerStatus, RestartStatus } from "@meridian/bgp";
import type { BgpComponentDetail, BgpSessionState } from "@meridian/model";
import { bgpStatusSchema } from "@meridian/model";
import type { z } from "zod";
import { type BgpPlan, fromSpeakerFamily } from "./plan.js";

export interface FamilyPrefixes {
  received: number;
  accepted: number;
  advertised: number;
}

export interface BgpPeerReport {
  name: string;
  instance: string;
  address: string;
  peerASN: number;
  /** RFC 4271 FSM state, or "NotStarted" when the controller could not configure the session. */
  state: BgpSessionState;
  uptimeSeconds: number;
  /** Times an Established session went down, including resets for config changes. */
  flaps: number;
  lastError?: {
    /** "received: OPEN Message Error / Bad Peer AS" */
    words: string;
    direction: "sent" | "received" | "local";
    code?: number;
    subcode?: number;
    at: string;
  };
  /** Keyed by family in the control plane's naming (ipv4-unicast, ipv6-unicast, vpnv4, vpnv6). */
  prefixes: Record<string, FamilyPrefixes>;
  negotiated?: {
    families: string[];
    holdTimeSeconds: number;
    keepaliveSeconds: number;
    fourOctetAsn: boolean;
    routeRefresh: boolean;
    gracefulRestart: boolean;
    extendedNextHop: string[];
    peerRouterID: string;
    localAddress: string;
  };
  /** Configured (not negotiated) values, to compare with the negotiated ones. */
  configured: {
    holdTimeSeconds?: number;
    families: string[];
    md5: boolean;
    ebgpMultihop?: number;
    gracefulRestart: boolean;
  };
  /** Whether the best accepted unicast routes from this peer go into the kernel. */
  installRoutes: boolean;
  /** Routes from this peer in the kernel's main table now (proto bgp); 0 without installRoutes. */
  routesInstalled: number;
  problems: string[];
}

/** One BGP instance on this node: its own speaker, ASN and router ID. */
export interface BgpInstanceReport {
  name: string;
  localASN?: number;
  routerID?: string;
  /** Its speaker runs (false: it could not start, see problems). */
  running: boolean;
  /** After a graceful restart (RFC 4724 §4.1): selection waits for the peers' End-of-RIB. */
  gracefulRestart?: {
    deferring: boolean;
    since: string;
    /** Per family still deferred: the peers (addresses) whose End-of-RIB is awaited. */
    waiting: { family: string; peers: string[] }[];
    completed?: { at: string; reason: "end-of-rib" | "timer" | "stopped" };
  };
  problems: string[];
}

export interface BgpStatus {
  /** Every instance that selects this node; peers name theirs in `instance`. */
  instances: BgpInstanceReport[];
  /** Some instance's speaker runs. */
  running: boolean;
  peers: BgpPeerReport[];
  problems: string[];
  lastError?: string;
  adoptedKernelRoutes?: number;
}

/** What status reads of the kernel route installer. */
export interface KernelRoutesView {
  installedFor(address: string): number;
  problemsFor(address: string): string[];
  problems(): string[];
  readonly adopted: number;
}

export function buildStatus(input: {
  plan?: BgpPlan;
  kernel?: KernelRoutesView;
  /** Per running instance (by name): its speaker's peer status and graceful-restart state. */
  speakers: Map<string, { peers: PeerStatus[]; restart?: RestartStatus }>;
  /** By "instance|address". */
  carriedFlaps: Map<string, number>;
  lastError?: string;
  running: boolean;
}): BgpStatus {
  const { plan } = input;
  const byAddr = new Map(
    [...input.speakers].flatMap(([inst, sp]) => sp.peers.map((s) => [`${inst}|${s.address}`, s] as const)),
  );
  const peers = (plan?.peers ?? []).map((p): BgpPeerReport => {
    // A peer left out for a problem (a duplicate address) has no session of its own to show.
    const s = p.problems.length === 0 ? byAddr.get(`${p.instance}|${p.config.address}`) : undefined;
    const prefixes: Record<string, FamilyPrefixes> = {};
    for (const [f, c] of Object.entries(s?.prefixes ?? {}))
      if (c) prefixes[fromSpeakerFamily(f as Family)] = { ...c };
    const problems = [...p.problems];
    if (p.installRoutes) problems.push(...(input.kernel?.problemsFor(p.config.address) ?? []));
    const e = s?.lastError;
    return {
      name: p.name,
      instance: p.instance,
      address: p.config.address,
      peerASN: p.config.asn,
      state: s?.state ?? "NotStarted",
      uptimeSeconds: s?.uptimeSeconds ?? 0,
      flaps: (s?.flaps ?? 0) + (input.carriedFlaps.get(`${p.instance}|${p.config.address}`) ?? 0),
      ...(e && s?.lastErrorWords
        ? {
            lastError: {
              words: s.lastErrorWords,
              direction: e.direction,
              ...(e.code !== undefined ? { code: e.code } : {}),
              ...(e.subcode !== undefined ? { subcode: e.subcode } : {}),
              at: new Date(e.at).toISOString(),
            },
          }
        : {}),
      prefixes,
      ...(s?.negotiated
        ? {
            negotiated: {
              families: s.negotiated.families.map(fromSpeakerFamily),
              holdTimeSeconds: s.negotiated.holdTime,
              keepaliveSeconds: s.negotiated.keepalive,
              fourOctetAsn: s.negotiated.as4,
              routeRefresh: s.negotiated.routeRefresh,
              gracefulRestart: s.negotiated.gracefulRestart,
              extendedNextHop: s.negotiated.extendedNextHop.map(fromSpeakerFamily),
              peerRouterID: s.negotiated.peerRouterId,
              localAddress: s.negotiated.localAddress,
            },
          }
        : {}),
      configured: {
        ...(p.config.holdTime !== undefined ? { holdTimeSeconds: p.config.holdTime } : {}),
        families: (p.config.families ?? []).map(fromSpeakerFamily),
        md5: p.config.md5Password !== undefined,
        ...(p.config.ebgpMultihop !== undefined ? { ebgpMultihop: p.config.ebgpMultihop } : {}),
        gracefulRestart: p.config.gracefulRestart !== undefined,
      },
      installRoutes: p.installRoutes,
      routesInstalled: input.kernel?.installedFor(p.config.address) ?? 0,
      problems,
    };
  });
  return {
    instances: (plan?.instances ?? []).map((i): BgpInstanceReport => {
      const sp = input.speakers.get(i.name);
      const r = sp?.restart;
      return {
        name: i.name,
        ...(i.speaker ? { localASN: i.speaker.asn, routerID: i.speaker.routerId } : {}),
        running: !!sp,
        ...(r
          ? {
              gracefulRestart: {
                deferring: r.deferring,
                since: r.since.toISOString(),
                waiting: r.waiting.map((w) => ({ family: fromSpeakerFamily(w.family), peers: w.peers })),
                ...(r.completed
                  ? { completed: { at: r.completed.at.toISOString(), reason: r.completed.reason } }
                  : {}),
              },
            }
          : {}),
        problems: i.problems,
      };
    }),
    running: input.running,
    peers,
    problems: [...(plan?.problems ?? []), ...(input.kernel?.problems() ?? [])],
    // Routes a previous agent installed, kept until the peers re-announce them (End-of-RIB).
    ...(input.kernel?.adopted ? { adoptedKernelRoutes: input.kernel.adopted } : {}),
    ...(input.lastError ? { lastError: input.lastError } : {}),
  };
}

/** The `bgp` component: ok when every peer is Established, degraded with problems, error after a failed apply. */
export const bgpComponentStatusSchema = bgpStatusSchema;
export type BgpComponentStatus = z.infer<typeof bgpComponentStatusSchema>;

/** The status as the agent's component report: `{ component: "bgp", state, message, detail }`. */
export function bgpComponentStatus(status: BgpStatus): BgpComponentStatus & { detail: BgpComponentDetail } {
  const up = status.peers.filter((p) => p.state === "Established").length;
  const total = status.peers.length;
  let state: "ok" | "degraded" | "error" = "ok";
  let message = total ? `${up}/${total} peers Established` : "no BGP instance selects this node";
  if (status.lastError) {
    state = "error";
    message = `apply failed, keeping the last good state: ${status.lastError}`;
  } else if (up < total || status.problems.length > 0 || status.peers.some((p) => p.problems.length > 0)) {
    state = "degraded";
    const down = status.peers.filter((p) => p.state !== "Established");
    if (down.length)
      message += `; down: ${down.map((p) => `${p.name} (${p.lastError?.words ?? p.state})`).join(", ")}`;
  }
  return { component: "bgp", state, message: message.slice(0, 2000), detail: consoleDetail(status) };
}

/**
 * The `detail` the console reads (apps/web/src/lib/bgp-status.ts): `peers` keyed by peer
 * address, each with `state`, `uptimeSeconds`, `prefixesReceived` / `prefixesAdvertised` (summed
 * over families) and `lastError` in words, plus the whole per-peer report (the structured last
 * error as `lastErrorDetail`).
 */
export function consoleDetail(status: BgpStatus): BgpComponentDetail {
  const { peers, ...rest } = status;
  const sum = (p: BgpPeerReport, k: keyof FamilyPrefixes) =>
    Object.values(p.prefixes).reduce((n, f) => n + f[k], 0);
  return {
    ...rest,
    peers: Object.fromEntries(
      peers.map((p) => {
        const { lastError, ...report } = p;
        return [
          p.address,
          {
            ...report,
            prefixesReceived: sum(p, "received"),
            prefixesAccepted: sum(p, "accepted"),
            prefixesAdvertised: sum(p, "advertised"),
            ...(lastError ? { lastError: lastError.words, lastErrorDetail: lastError } : {}),
          },
        ];
      }),
    ),
  };
}
