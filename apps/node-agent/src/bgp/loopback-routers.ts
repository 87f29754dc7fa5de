// Test support for the controller tests that need no root: our own speaker plays the routers on
// loopback addresses (127.79.n.x), and a poll helper waits for what the controller shows.
import { BgpSpeaker, type Family } from "@meridian/bgp";

/** Polls `fn` every 25 ms until it returns something truthy. */
export async function until<T>(fn: () => T, what: string, ms = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A router listening on `address` (a free port) that waits for the node at `node` (AS 65001) to
 * dial in; it accepts and sends everything. Pushed onto `routers` so the test can stop them all.
 */
export async function passiveRouter(
  routers: BgpSpeaker[],
  node: string,
  address: string,
  asn: number,
  families: Family[],
): Promise<BgpSpeaker> {
  const r = new BgpSpeaker({ asn, routerId: address, listen: { port: 0, host: address } });
  await r.start();
  r.addPeer({
    address: node,
    asn: 65001,
    passive: true,
    families,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
  });
  routers.push(r);
  return r;
}
