// Pod plumbing: a veth pair per (container, ifname), the host side in the node's namespace
// and the peer inside the pod's.
//
// Addressing (the same scheme as Calico/Cilium's "link-local gateway"):
//   * the pod gets its addresses as /32 and /128 — it has no on-link subnet, so every
//     packet, even to a pod on the same node, goes through the host and thus through the
//     datapath programs on the host-side veth;
//   * its default routes point at 169.254.1.1 and fe80::1, which every host-side veth
//     carries. The gateway is the same for every pod and never consumes a PodCIDR address;
//   * the node routes each pod address (/32, /128) to the pod's host-side veth.
import { createHash } from "node:crypto";
import { access } from "node:fs/promises";
import { isIPv4 } from "node:net";
import {
  CommandError,
  type IpAddr,
  type IpLink,
  type IpRoute,
  ip,
  ipBatch,
  ipJson,
  setSysctls,
} from "./exec.js";

export const POD_GATEWAY_V4 = "169.254.1.1";
export const POD_GATEWAY_V6 = "fe80::1";
/** Route protocol number marking the per-pod host routes the agent owns. */
export const ENDPOINT_ROUTE_PROTO = "78";

/** Host-side veth name: `mrd` + 11 hex digits of a hash, within IFNAMSIZ (15). */
export function hostIfnameFor(containerId: string, ifname: string): string {
  return `mrd${createHash("sha256").update(`${containerId}/${ifname}`).digest("hex").slice(0, 11)}`;
}

export interface PodPlumbing {
  netns: string;
  ifname: string;
  hostIfname: string;
  /** Plain addresses, e.g. 10.244.1.5 and fd00:10:244:1::5. */
  addresses: string[];
  mtu?: number;
}

export interface PlumbedPod {
  podMac: string;
  hostMac: string;
}

export function hostPrefix(address: string): string {
  return isIPv4(address) ? `${address}/32` : `${address}/128`;
}

export class NetnsMissingError extends Error {
  constructor(readonly netns: string) {
    super(`network namespace ${netns} does not exist`);
    this.name = "NetnsMissingError";
  }
}

export async function netnsExists(netns: string): Promise<boolean> {
  try {
    await access(netns);
    return true;
  } catch {
    return false;
  }
}

export async function plumbPod(p: PodPlumbing): Promise<PlumbedPod> {
  if (!(await netnsExists(p.netns))) throw new NetnsMissingError(p.netns);
  const v4 = p.addresses.filter((a) => isIPv4(a));
  const v6 = p.addresses.filter((a) => !isIPv4(a));
  // The pod's new interface inherits "default": no DAD, so its addresses are usable the
  // moment ADD returns instead of a second later.
  await setSysctls({ "net.ipv6.conf.default.accept_dad": "0", "net.ipv6.conf.all.accept_dad": "0" }, p.netns);
  // A stale host side (crash mid-ADD, or a repeated ADD) would make `link add` fail.
  await deleteLink(p.hostIfname);
  const mtu = p.mtu ? ["mtu", String(p.mtu)] : [];
  // Created directly with the peer inside the pod: the pod-side name (eth0) would collide
  // with the node's own interfaces if it passed through the node's namespace.
  await ip([
    "link",
    "add",
    p.hostIfname,
    ...mtu,
    "type",
    "veth",
    "peer",
    "name",
    p.ifname,
    ...mtu,
    "netns",
    p.netns,
  ]);
  try {
    await setSysctls({ [`net.ipv6.conf.${p.hostIfname}.accept_dad`]: "0" });
    const host = [`link set ${p.hostIfname} up`];
    if (v4.length) host.push(`addr add ${POD_GATEWAY_V4}/32 dev ${p.hostIfname} scope link`);
    if (v6.length) host.push(`addr add ${POD_GATEWAY_V6}/64 dev ${p.hostIfname} nodad`);
    for (const a of p.addresses) {
      host.push(
        `route replace ${hostPrefix(a)} dev ${p.hostIfname} scope link proto ${ENDPOINT_ROUTE_PROTO}`,
      );
    }
    await ipBatch(host);
    const pod = ["link set lo up", `link set ${p.ifname} up`];
    for (const a of v4) pod.push(`addr add ${a}/32 dev ${p.ifname}`);
    for (const a of v6) pod.push(`addr add ${a}/128 dev ${p.ifname} nodad`);
    if (v4.length) {
      pod.push(`route add ${POD_GATEWAY_V4}/32 dev ${p.ifname} scope link`);
      pod.push(`route add default via ${POD_GATEWAY_V4} dev ${p.ifname}`);
    }
    if (v6.length) pod.push(`route add default via ${POD_GATEWAY_V6} dev ${p.ifname}`);
    await ipBatch(pod, { netns: p.netns });
    const [hostLink] = await ipJson<IpLink>(["link", "show", "dev", p.hostIfname]);
    const [podLink] = await ipJson<IpLink>(["link", "show", "dev", p.ifname], { netns: p.netns });
    return { hostMac: hostLink?.address ?? "", podMac: podLink?.address ?? "" };
  } catch (err) {
    await deleteLink(p.hostIfname);
    throw err;
  }
}

/** Whether a link of this name exists in our network namespace. */
export async function linkExists(name: string): Promise<boolean> {
  try {
    await ip(["link", "show", "dev", name]);
    return true;
  } catch (err) {
    if (err instanceof CommandError && /Cannot find device|does not exist/.test(err.stderr)) return false;
    throw err;
  }
}

/** Removes the veth pair (the peer and every route through it go with it). Idempotent. */
export async function deleteLink(name: string): Promise<boolean> {
  try {
    await ip(["link", "del", "dev", name]);
    return true;
  } catch (err) {
    if (err instanceof CommandError && /Cannot find device|does not exist/.test(err.stderr)) return false;
    throw err;
  }
}

/** What CHECK found wrong, one sentence each; empty when the kernel matches. */
export async function inspectPod(p: PodPlumbing): Promise<string[]> {
  const problems: string[] = [];
  if (!(await netnsExists(p.netns))) return [`network namespace ${p.netns} does not exist`];
  const [podLink] = await ipJson<IpAddr>(["addr", "show"], { netns: p.netns }).then((links) =>
    links.filter((l) => l.ifname === p.ifname),
  );
  if (!podLink) {
    problems.push(`interface ${p.ifname} is missing in ${p.netns}`);
  } else {
    if (!podLink.flags.includes("UP")) problems.push(`interface ${p.ifname} in ${p.netns} is down`);
    const have = new Set(podLink.addr_info.map((a) => a.local));
    for (const a of p.addresses) if (!have.has(a)) problems.push(`address ${a} is missing on ${p.ifname}`);
    const v4 = p.addresses.some((a) => isIPv4(a));
    const v6 = p.addresses.some((a) => !isIPv4(a));
    if (v4) {
      const routes = await ipJson<IpRoute>(["-4", "route", "show", "default"], { netns: p.netns });
      if (!routes.some((r) => r.gateway === POD_GATEWAY_V4 && r.dev === p.ifname)) {
        problems.push(`default route via ${POD_GATEWAY_V4} dev ${p.ifname} is missing in the pod`);
      }
    }
    if (v6) {
      const routes = await ipJson<IpRoute>(["-6", "route", "show", "default"], { netns: p.netns });
      if (!routes.some((r) => r.gateway === POD_GATEWAY_V6 && r.dev === p.ifname)) {
        problems.push(`default route via ${POD_GATEWAY_V6} dev ${p.ifname} is missing in the pod`);
      }
    }
  }
  const hostLinks = await ipJson<IpLink>(["link", "show"]).then((l) =>
    l.filter((x) => x.ifname === p.hostIfname),
  );
  if (!hostLinks[0]) {
    problems.push(`host-side interface ${p.hostIfname} is missing`);
    return problems;
  }
  if (!hostLinks[0].flags.includes("UP")) problems.push(`host-side interface ${p.hostIfname} is down`);
  for (const a of p.addresses) {
    const fam = isIPv4(a) ? "-4" : "-6";
    const routes = await ipJson<IpRoute>([fam, "route", "show", "exact", hostPrefix(a)]);
    if (!routes.some((r) => r.dev === p.hostIfname)) {
      problems.push(`host route ${hostPrefix(a)} dev ${p.hostIfname} is missing`);
    }
  }
  return problems;
}
