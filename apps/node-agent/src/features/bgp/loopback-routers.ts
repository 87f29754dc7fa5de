// Test support for the controller tests that need no root: our own speaker plays the routers on
// loopback addresses (127.79.n.x).
import { BgpSpeaker, type Family } from "@meridian/bgp";

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
