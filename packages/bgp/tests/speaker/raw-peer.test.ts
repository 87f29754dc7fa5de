import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BgpSpeaker, decode, encode, type Family, frameLength, type Message } from "../../src/index.js";
import { until } from "./helpers.js";

// A hand-driven peer on a raw socket: lets tests send exactly the bytes a broken router would.

const n = 100 + (process.pid % 100);
const ours = `127.78.${n}.1`;
const theirs = `127.78.${n}.2`;
let speaker: BgpSpeaker | undefined;
let sock: net.Socket | undefined;

afterEach(async () => {
  sock?.destroy();
  await speaker?.stop();
});

const third = `127.78.${n}.3`;
let sock2: net.Socket | undefined;
afterEach(() => sock2?.destroy());

async function rawPeer(
  holdTime = 30,
  families: Family[] = ["ipv4-unicast"],
): Promise<{ received: Message[]; socket: net.Socket }> {
  speaker = new BgpSpeaker({ asn: 65001, routerId: "1.1.1.1", listen: { port: 0, host: ours } });
  await speaker.start();
  speaker.addPeer({
    address: theirs,
    asn: 65002,
    passive: true,
    families,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
  });
  return connectRaw(theirs, 65002, holdTime, families);
}

async function connectRaw(
  from: string,
  asn: number,
  holdTime = 30,
  families: Family[] = ["ipv4-unicast"],
): Promise<{ received: Message[]; socket: net.Socket }> {
  const received: Message[] = [];
  const socket = net.connect({ host: ours, port: speaker!.listenPort!, localAddress: from });
  if (from === theirs) sock = socket;
  else sock2 = socket;
  let buf = Buffer.alloc(0);
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (let len = frameLength(buf); len > 0; len = frameLength(buf)) {
      received.push(decode(buf.subarray(0, len)));
      buf = buf.subarray(len);
    }
  });
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  socket.write(
    encode({
      type: "open",
      version: 4,
      myAs: asn,
      holdTime,
      bgpId: from === theirs ? "2.2.2.2" : "3.3.3.3",
      capabilities: { as4: asn, multiprotocol: families, routeRefresh: true },
    }),
  );
  socket.write(encode({ type: "keepalive" }));
  await until(() => speaker!.peerStatus(from)?.state === "Established", "Established with raw peer");
  return { received, socket };
}

describe("malformed input from a peer", () => {
  it("a bad marker gets a NOTIFICATION back and the speaker stays up", async () => {
    const { received, socket } = await rawPeer();
    const bad = encode({ type: "keepalive" });
    bad[0] = 0;
    socket.write(bad);
    const note = await until(() => received.find((m) => m.type === "notification"), "NOTIFICATION");
    expect(note).toMatchObject({ code: 1, subcode: 1 });
    await until(() => speaker!.peerStatus(theirs)!.state !== "Established", "session down");
    expect(speaker!.peerStatus(theirs)!.lastErrorWords).toMatch(
      /^sent: Message Header Error \/ Connection Not Synchronized/,
    );
  });

  it("an UPDATE with an invalid ORIGIN withdraws the route but keeps the session (RFC 7606)", async () => {
    const { socket } = await rawPeer();
    const good = {
      type: "update" as const,
      withdrawn: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: theirs },
      nlri: [{ prefix: "10.9.0.0/16" }],
    };
    socket.write(encode(good));
    await until(() => speaker!.receivedRoutes(theirs, "ipv4-unicast").length === 1, "route learned");
    const bad = encode(good);
    const at = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    bad[at + 3] = 7;
    socket.write(bad);
    await until(() => speaker!.receivedRoutes(theirs, "ipv4-unicast").length === 0, "treat-as-withdraw");
    expect(speaker!.peerStatus(theirs)!.state).toBe("Established");
  });

  // Issue 19, bug 4: treat-as-withdraw applied to the IPv4 NLRI field only passed every test, as
  // nothing sent a malformed attribute with MP_REACH routes. RFC 7606 §2: all the UPDATE's NLRI,
  // in MP_REACH_NLRI too, are handled as withdrawn.
  it("an UPDATE with an invalid ORIGIN withdraws its MP_REACH (IPv6) routes too, and learns none", async () => {
    const { socket } = await rawPeer(30, ["ipv4-unicast", "ipv6-unicast"]);
    const v6 = (prefixes: string[], origin: number) =>
      encode({
        type: "update",
        withdrawn: [],
        attributes: {
          origin,
          asPath: [{ type: 2, asns: [65002] }],
          mpReach: {
            family: "ipv6-unicast",
            nextHops: ["fd00::2"],
            nlri: prefixes.map((prefix) => ({ prefix })),
          },
        },
        nlri: [],
      });
    const received6 = () => speaker!.receivedRoutes(theirs, "ipv6-unicast").map((r) => r.prefix);
    socket.write(v6(["2001:db8:1::/48"], 0));
    await until(() => received6().length === 1, "IPv6 route learned");
    // The same route again with ORIGIN 7 (malformed), and a prefix never seen before.
    socket.write(v6(["2001:db8:1::/48", "2001:db8:2::/48"], 7));
    await until(() => received6().length === 0, "treat-as-withdraw of the MP_REACH route");
    // Barrier: a good IPv4 route sent after the bad UPDATE has arrived, so the bad one is handled.
    socket.write(
      encode({
        type: "update",
        withdrawn: [],
        attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: theirs },
        nlri: [{ prefix: "10.8.0.0/16" }],
      }),
    );
    await until(() => speaker!.receivedRoutes(theirs, "ipv4-unicast").length === 1, "IPv4 barrier route");
    expect(received6()).toEqual([]);
    expect(speaker!.peerStatus(theirs)!.state).toBe("Established");
  });

  it("a silent peer is dropped when the hold timer expires, reported in words", async () => {
    const { received } = await rawPeer(3);
    await until(() => speaker!.peerStatus(theirs)!.state !== "Established", "hold timer expiry", 8000);
    expect(speaker!.peerStatus(theirs)!.lastErrorWords).toMatch(/^sent: Hold Timer Expired/);
    // Our state changes before the NOTIFICATION bytes reach the peer's socket; wait for them.
    await until(
      () => received.some((m) => m.type === "notification" && m.code === 4),
      "Hold Timer Expired NOTIFICATION",
    );
  });

  it("an unknown optional transitive attribute is passed on unchanged with the Partial bit set", async () => {
    const { socket } = await rawPeer();
    speaker!.addPeer({
      address: third,
      asn: 65003,
      passive: true,
      importPolicy: "accept-all",
      exportPolicy: "accept-all",
    });
    const other = await connectRaw(third, 65003);
    const value = Buffer.from("cafe0102", "hex");
    socket.write(
      encode({
        type: "update",
        withdrawn: [],
        attributes: {
          origin: 0,
          asPath: [{ type: 2, asns: [65002] }],
          nextHop: theirs,
          unknown: [{ flags: 0xc0, type: 99, value }],
        },
        nlri: [{ prefix: "10.7.0.0/16" }],
      }),
    );
    const upd = await until(
      () => other.received.find((m) => m.type === "update" && m.nlri.length > 0),
      "route re-advertised to the third peer",
    );
    expect(upd.type === "update" && upd.attributes.unknown).toEqual([{ flags: 0xe0, type: 99, value }]);
    expect(upd.type === "update" && upd.attributes.asPath).toEqual([{ type: 2, asns: [65001, 65002] }]);
  });

  it("a ROUTE-REFRESH gets the Adj-RIB-Out sent again", async () => {
    const { received, socket } = await rawPeer();
    speaker!.originate({ prefix: "10.8.0.0/16" });
    const count = () =>
      received.filter((m) => m.type === "update" && m.nlri.some((x) => x.prefix === "10.8.0.0/16")).length;
    await until(() => count() === 1, "first advertisement");
    socket.write(encode({ type: "route-refresh", family: "ipv4-unicast", subtype: 0 }));
    await until(() => count() === 2, "re-advertisement after ROUTE-REFRESH");
  });

  it("the listener closes connections from unconfigured addresses without sending an OPEN", async () => {
    await rawPeer();
    const stranger = net.connect({ host: ours, port: speaker!.listenPort!, localAddress: `127.78.${n}.9` });
    const got: Buffer[] = [];
    stranger.on("data", (d) => got.push(d));
    stranger.on("error", () => {});
    await new Promise((r) => stranger.once("close", r));
    expect(Buffer.concat(got).length).toBe(0);
    expect(speaker!.status().map((s) => s.address)).toEqual([theirs]);
  });
});
