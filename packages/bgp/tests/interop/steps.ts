import type { Family, PeerConfig, PeerStatus, RouteView } from "../../src/index.js";
import { type Driver, type Lab, until } from "../../testing/index.js";

// Steps the FRR, GoBGP and BIRD interop tests share. In every lab we are AS 65001 at .1 and the
// daemon's main session is at .2; .3 → .4 is a second session where the daemon expects AS 65999,
// so it answers our OPEN with a NOTIFICATION.

export const OUR_AS = 65001;

/** The SRv6 SID structure both the FRR and the GoBGP tests send: 40-bit block, 24-bit node, 16-bit
 * function carried in the label (transposed from bit 64). */
export const SRV6 = {
  locatorBlockLength: 40,
  locatorNodeLength: 24,
  functionLength: 16,
  argumentLength: 0,
  transpositionLength: 16,
  transpositionOffset: 64,
};

/** Starts our speaker in the lab's namespace with the given peers. */
export function startUs(lab: Lab, peers: PeerConfig[]): Promise<Driver> {
  return lab.speaker({ asn: OUR_AS, routerId: lab.v4(1), listen: { port: 179 } }, peers);
}

/** The main session to the daemon at .2, over IPv4, with our IPv6 next hop for IPv6 routes. */
export function mainPeer(
  lab: Lab,
  asn: number,
  families: Family[],
  extra: Partial<PeerConfig> = {},
): PeerConfig {
  return {
    address: lab.v4(2),
    asn,
    localAddress: lab.v4(1),
    families,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    nextHopIpv6: lab.v6(1),
    holdTime: 9,
    connectRetry: 2,
    ...extra,
  };
}

/** The session from .3 to .4 that the daemon refuses: it expects AS 65999 there. */
export function wrongAsPeer(lab: Lab, asn: number): PeerConfig {
  return {
    address: lab.v4(4),
    asn,
    localAddress: lab.v4(3),
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    connectRetry: 2,
  };
}

/** A session on .5 → .6 with the smallest hold time (3 s, keepalive 1 s): it must outlive several. */
export function shortHoldPeer(lab: Lab, asn: number): PeerConfig {
  return {
    address: lab.v4(6),
    asn,
    localAddress: lab.v4(5),
    families: ["ipv4-unicast"],
    // Only keepalives on it: the main session's tests see the daemon's best path through .1.
    importPolicy: { rules: [], default: "reject" },
    exportPolicy: { rules: [], default: "reject" },
    holdTime: 3,
    connectRetry: 2,
  };
}

export async function untilEstablished(
  us: Driver,
  address: string,
  what = "our side Established",
  ms = 30_000,
): Promise<void> {
  await until(async () => (await us.peer(address)).state === "Established", what, ms);
}

/** Waits for the daemon's route for prefix to reach us on the main session, and returns it. */
export function untilReceived(
  us: Driver,
  lab: Lab,
  family: Family,
  prefix: string,
  what: string,
): Promise<RouteView> {
  return until(async () => (await us.received(lab.v4(2), family)).find((r) => r.prefix === prefix), what);
}

/** Waits until the daemon's IPv4 route for prefix is gone from what we received on the main session. */
export async function untilDropped(us: Driver, lab: Lab, prefix: string, what: string): Promise<void> {
  await until(
    async () => !(await us.received(lab.v4(2), "ipv4-unicast")).some((r) => r.prefix === prefix),
    what,
  );
}

/** Waits for the wrong-AS session to record a NOTIFICATION received from the daemon. */
export function untilNotification(us: Driver, lab: Lab, what: string): Promise<PeerStatus> {
  return until(
    async () => {
      const s = await us.peer(lab.v4(4));
      return s.lastError?.direction === "received" ? s : undefined;
    },
    what,
    30_000,
  );
}
