import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BgpSpeaker, SharedListener } from "../../src/index.js";
import { until } from "./helpers.js";

// Two BGP instances (different local ASNs) on one host share one listening socket: an incoming
// connection goes to the instance that has its source address as a peer.

const n = 10 + (process.pid % 200);
const node = `127.80.${n}.1`;
const tor = `127.80.${n}.2`;
const rs = `127.80.${n}.3`;
const stranger = `127.80.${n}.4`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function speaker(asn: number, routerId: string, listen: SharedListener | false): BgpSpeaker {
  const s = new BgpSpeaker({ asn, routerId, listen });
  cleanups.push(() => s.stop());
  return s;
}

/** A router that connects to the node's shared port. */
function router(address: string, asn: number, nodeAsn: number, port: number): BgpSpeaker {
  const r = speaker(asn, address, false);
  r.addPeer({
    address: node,
    asn: nodeAsn,
    port,
    localAddress: address,
    connectRetry: 1,
    holdTime: 9,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
  });
  return r;
}

describe("SharedListener", () => {
  it("dispatches by source address to two instances with their own ASN, RIBs and sessions", async () => {
    const listener = new SharedListener({ port: 0, host: node });
    cleanups.push(() => listener.close());
    const port = await listener.start();
    const fabric = speaker(65001, node, listener);
    const upstream = speaker(65100, node, listener);
    await fabric.start();
    await upstream.start();
    const peer = (s: BgpSpeaker, address: string, asn: number) =>
      s.addPeer({
        address,
        asn,
        passive: true,
        holdTime: 9,
        importPolicy: "accept-all",
        exportPolicy: "accept-all",
      });
    peer(fabric, tor, 65010);
    peer(upstream, rs, 65200);
    fabric.originate({ prefix: "10.244.1.0/24" });
    upstream.originate({ prefix: "192.0.2.0/24" });
    const torRouter = router(tor, 65010, 65001, port);
    const rsRouter = router(rs, 65200, 65100, port);
    rsRouter.originate({ prefix: "198.51.100.0/24" });
    await until(() => fabric.peerStatus(tor)?.state === "Established", "fabric session");
    await until(() => upstream.peerStatus(rs)?.state === "Established", "upstream session");
    // Each router sees its own instance's ASN and routes only.
    const atTor = await until(() => torRouter.receivedRoutes(node, "ipv4-unicast")[0], "route at ToR");
    expect(atTor).toMatchObject({ prefix: "10.244.1.0/24", asPath: [65001] });
    const atRs = await until(() => rsRouter.receivedRoutes(node, "ipv4-unicast")[0], "route at RS");
    expect(atRs).toMatchObject({ prefix: "192.0.2.0/24", asPath: [65100] });
    await until(() => upstream.receivedRoutes(rs, "ipv4-unicast").length === 1, "RS route in upstream");
    expect(fabric.bestRoutes("ipv4-unicast").map((r) => r.prefix)).toEqual(["10.244.1.0/24"]);
    expect(torRouter.receivedRoutes(node, "ipv4-unicast")).toHaveLength(1);

    // A peer address belongs to one instance: the other cannot take it.
    expect(() => peer(upstream, tor, 65010)).toThrow(/already configured in another BGP speaker/);

    // Strangers are closed without an OPEN.
    const sock = net.connect({ host: node, port, localAddress: stranger });
    cleanups.push(() => sock.destroy());
    const got: Buffer[] = [];
    sock.on("data", (d) => got.push(d));
    sock.on("error", () => {});
    await new Promise((r) => sock.once("close", r));
    expect(got).toEqual([]);

    // Removing one instance leaves the other's session as it was.
    const uptimeBefore = fabric.peerStatus(tor)!;
    await upstream.stop();
    await until(() => rsRouter.peerStatus(node)?.state !== "Established", "upstream session gone");
    // Barrier: a route fabric originates now reaches the ToR, so the session carried traffic after
    // the upstream instance went (rather than a fixed wait for a reset that should not come).
    fabric.originate({ prefix: "192.0.2.99/32" });
    await until(
      () => torRouter.receivedRoutes(node, "ipv4-unicast").some((r) => r.prefix === "192.0.2.99/32"),
      "a route through the fabric session after upstream stopped",
    );
    const after = fabric.peerStatus(tor)!;
    expect(after.state).toBe("Established");
    expect(after.flaps).toBe(uptimeBefore.flaps);
    expect(torRouter.peerStatus(node)!.flaps).toBe(0);
    // …and the RS, which keeps retrying, is now refused like a stranger.
    expect(rsRouter.peerStatus(node)?.state).not.toBe("Established");
  });
});
