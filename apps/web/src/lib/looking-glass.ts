// The BGP looking glass page's URL and cell text: routes as a router's `show bgp` prints them.
export interface LookingGlassQuery {
  node: string;
  peer: string;
  direction?: "received" | "advertised";
  family?: string;
  prefix?: string;
  offset?: number;
}

export function lookingGlassHref(q: LookingGlassQuery): string {
  const p = new URLSearchParams({ node: q.node, peer: q.peer });
  if (q.direction && q.direction !== "received") p.set("direction", q.direction);
  if (q.family) p.set("family", q.family);
  if (q.prefix) p.set("prefix", q.prefix);
  if (q.offset) p.set("offset", String(q.offset));
  return `/bgp/looking-glass?${p.toString()}`;
}

export const FAMILY_LABEL: Record<string, string> = {
  "ipv4-unicast": "IPv4 unicast",
  "ipv6-unicast": "IPv6 unicast",
  vpnv4: "VPNv4",
  vpnv6: "VPNv6",
};

export const ORIGIN_LABEL: Record<string, string> = { igp: "IGP", egp: "EGP", incomplete: "incomplete" };

export const count = (n: number) => n.toLocaleString("en-US");

/** "2026-11-25 18:34:04 UTC" */
export const utc = (at: Date) => `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;

/** "12 s ago", "4 min ago", "3 h ago". */
export function ago(at: Date, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - at.getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** The agent CLI line that lists the whole table. */
export function agentCommand(direction: string, peer: string, family: string | null): string {
  return `meridian-agent bgp routes ${direction} ${peer}${family ? ` ${family}` : ""}`;
}
