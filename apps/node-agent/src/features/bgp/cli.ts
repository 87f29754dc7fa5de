// `meridian-agent bgp peers` and `bgp routes received|advertised <peer> [family]`: the command, and
// pure functions from the controller's JSON to what an operator reads (or the same JSON with --json).
import { type FeatureCli, UsageError } from "../../cli/command.js";
import { table } from "../../cli/table.js";
import type { LookingGlassRoute } from "./controller.js";
import type { BgpPeerReport, BgpStatus } from "./status.js";

const ORIGIN = ["i", "e", "?"];

/** "1d02h03m", "05m12s": the way routers print session uptime. */
export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const p2 = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d${p2(h)}h${p2(m)}m`;
  if (h > 0) return `${h}h${p2(m)}m${p2(s)}s`;
  return `${p2(m)}m${p2(s)}s`;
}

function prefixCell(p: BgpPeerReport): string {
  return Object.entries(p.prefixes)
    .map(([f, c]) => `${f} ${c.accepted}/${c.received}/${c.advertised}`)
    .join(", ");
}

/**
 * `bgp peers`: a line per instance (its ASN and router ID), one table of every instance's peers
 * with the instance in each row, then the last error of peers that have one.
 */
export function formatPeers(status: BgpStatus, opts: { json?: boolean } = {}): string {
  if (opts.json) return JSON.stringify(status, null, 2);
  if (status.instances.length === 0 && status.peers.length === 0) {
    return ["no BGP instance selects this node", ...status.problems].join("\n");
  }
  const heads = status.instances.map((i) => {
    const gr = i.gracefulRestart;
    const restart = gr?.deferring
      ? `  graceful restart: selection deferred, waiting for End-of-RIB from ${
          [...new Set(gr.waiting.flatMap((w) => w.peers))].join(", ") || "-"
        }`
      : "";
    return `BGP instance ${i.name}  local AS ${i.localASN ?? "-"}  router ID ${i.routerID ?? "-"}${i.running ? "" : "  (not running)"}${restart}`;
  });
  const rows = status.peers.map((p) => [
    p.instance,
    p.name,
    p.address,
    String(p.peerASN),
    p.state,
    p.state === "Established" ? formatUptime(p.uptimeSeconds) : "-",
    String(p.flaps),
    p.negotiated ? `${p.negotiated.holdTimeSeconds}/${p.negotiated.keepaliveSeconds}` : "-",
    prefixCell(p) || "-",
  ]);
  const lines = [
    ...heads,
    table(
      ["INSTANCE", "PEER", "ADDRESS", "AS", "STATE", "UPTIME", "FLAPS", "HOLD/KA", "PREFIXES acc/rcv/adv"],
      rows,
    ),
  ];
  for (const p of status.peers) {
    if (p.lastError) lines.push(`${p.name}: last error ${p.lastError.words} at ${p.lastError.at}`);
    if (p.negotiated) {
      const caps = [
        p.negotiated.fourOctetAsn && "4-octet-AS",
        p.negotiated.routeRefresh && "route-refresh",
        p.negotiated.gracefulRestart && "graceful-restart",
        p.negotiated.extendedNextHop.length > 0 &&
          `extended-nexthop(${p.negotiated.extendedNextHop.join(",")})`,
      ].filter(Boolean);
      lines.push(
        `${p.name}: families ${p.negotiated.families.join(",")}; capabilities ${caps.join(" ") || "none"}`,
      );
    }
    for (const problem of p.problems) lines.push(`${p.name}: ${problem}`);
  }
  for (const problem of status.problems) lines.push(problem);
  if (status.lastError) lines.push(`last apply failed: ${status.lastError}`);
  return lines.join("\n");
}

/** `bgp routes received|advertised <peer> [family]`: a router-style table with communities. */
export function formatRoutes(routes: LookingGlassRoute[], opts: { json?: boolean } = {}): string {
  if (opts.json) return JSON.stringify(routes, null, 2);
  if (routes.length === 0) return "no routes";
  const sorted = [...routes].sort((a, b) =>
    a.family !== b.family
      ? a.family < b.family
        ? -1
        : 1
      : (a.rd ?? "") + a.prefix < (b.rd ?? "") + b.prefix
        ? -1
        : 1,
  );
  const rows = sorted.map((r) => [
    r.family,
    `${r.installed ? "K " : ""}${r.stale ? "S " : ""}${r.rd ? `${r.rd} ` : ""}${r.prefix}`,
    r.nextHops.join(",") || "self",
    r.localPref !== undefined ? String(r.localPref) : "",
    r.med !== undefined ? String(r.med) : "",
    `${r.asPath.join(" ")}${r.asPath.length ? " " : ""}${ORIGIN[r.origin ?? 2] ?? "?"}`,
    [...r.communities, ...r.largeCommunities, ...r.extendedCommunities].join(" "),
  ]);
  const out = table(["FAMILY", "PREFIX", "NEXT HOP", "LOCPRF", "MED", "PATH", "COMMUNITIES"], rows);
  const notes = [
    routes.some((r) => r.installed) && "K = installed in the kernel",
    routes.some((r) => r.stale) && "S = stale, kept for the peer's graceful restart",
  ].filter(Boolean);
  return `${out}\n${routes.length} route${routes.length === 1 ? "" : "s"}${notes.length ? ` (${notes.join("; ")})` : ""}`;
}

export const bgpCli: FeatureCli = {
  commands: [
    {
      name: "bgp",
      usage: [
        "  bgp peers           BGP sessions: state, uptime, prefixes, last error",
        "  bgp routes received|advertised <peer> [family]",
        "                      the looking glass for a peer (address or name); family e.g. ipv4-unicast",
      ].join("\n"),
      async run({ positionals, json, get, out }) {
        const [sub, kind, peer, family] = positionals;
        if (sub === "peers") {
          const st = (await get("/v1/bgp/peers")) as BgpStatus;
          out(formatPeers(st, { json }).replace(/\n$/, ""));
          return 0;
        }
        if (sub === "routes" && (kind === "received" || kind === "advertised") && peer) {
          const q = family ? `?family=${encodeURIComponent(family)}` : "";
          const routes = (await get(
            `/v1/bgp/routes/${kind}/${encodeURIComponent(peer)}${q}`,
          )) as LookingGlassRoute[];
          out(formatRoutes(routes, { json }).replace(/\n$/, ""));
          return 0;
        }
        throw new UsageError(
          "usage: meridian-agent bgp peers [--json] | bgp routes received|advertised <peer> [family] [--json]",
        );
      },
    },
  ],
};
