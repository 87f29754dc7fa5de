import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  BgpSpeaker,
  type Capabilities,
  decode,
  encode,
  frameLength,
  type Message,
  type UpdateMessage,
} from "../../src/index.js";
import { until } from "./helpers.js";

// RFC 4724 on loopback, no root: our speaker as the restarting side (selection deferral, R bit,
// End-of-RIB only after the peers') and as the helper (stale routes and their timers). The peers
// whose End-of-RIB timing matters are hand-driven raw sockets, so a test decides when it comes.

const n = 10 + (process.pid % 200);
const ours = `127.79.${n}.1`;
const rawAddr = `127.79.${n}.2`;
const helperAddr = `127.79.${n}.3`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const isEor = (m: Message) =>
  m.type === "update" &&
  m.withdrawn.length === 0 &&
  m.nlri.length === 0 &&
  Object.keys(m.attributes).length === 0;

/** A peer on a raw socket: sends exactly what the test says, records everything it receives. */
class RawPeer {
  received: Message[] = [];
  socket!: net.Socket;
  constructor(
    readonly address: string,
    readonly asn: number,
  ) {}

  async connect(port: number, caps: Partial<Capabilities> = {}): Promise<void> {
    this.received = [];
    const socket = net.connect({ host: ours, port, localAddress: this.address });
    this.socket = socket;
    cleanups.push(() => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (let len = frameLength(buf); len > 0; len = frameLength(buf)) {
        this.received.push(decode(buf.subarray(0, len)));
        buf = buf.subarray(len);
      }
    });
    socket.on("error", () => {});
    await new Promise((r) => socket.once("connect", r));
    socket.write(
      encode({
        type: "open",
        version: 4,
        myAs: this.asn,
        holdTime: 30,
        bgpId: this.address,
        capabilities: { as4: this.asn, multiprotocol: ["ipv4-unicast"], routeRefresh: true, ...caps },
      }),
    );
    socket.write(encode({ type: "keepalive" }));
  }

  announce(prefix: string): void {
    this.socket.write(
      encode({
        type: "update",
        withdrawn: [],
        attributes: { origin: 0, asPath: [{ type: 2, asns: [this.asn] }], nextHop: this.address },
        nlri: [{ prefix }],
      }),
    );
  }

  endOfRib(): void {
    this.socket.write(encode({ type: "update", withdrawn: [], attributes: {}, nlri: [] }));
  }

  /** Prefixes announced to us, and whether End-of-RIB came, in arrival order. */
  updates(): (string | "EoR")[] {
    return this.received
      .filter((m): m is UpdateMessage => m.type === "update")
      .flatMap((m) => (isEor(m) ? ["EoR" as const] : m.nlri.map((x) => x.prefix)));
  }

  open() {
    const o = this.received.find((m) => m.type === "open");
    return o?.type === "open" ? o : undefined;
  }
}

const GR = (restarting = false, forwardingPreserved = true): Partial<Capabilities> => ({
  gracefulRestart: {
    restarting,
    notification: false,
    time: 60,
    families: [{ family: "ipv4-unicast", forwardingPreserved }],
  },
});

/** Our speaker coming back from a restart, exporting everything so learned routes travel on. */
async function restarted(opts: { deferral?: number } = {}): Promise<BgpSpeaker> {
  const s = new BgpSpeaker({
    asn: 65001,
    routerId: "1.1.1.1",
    listen: { port: 0, host: ours },
    gracefulRestart: { restarting: true, selectionDeferralTime: opts.deferral ?? 30 },
  });
  cleanups.push(() => s.stop());
  await s.start();
  return s;
}

function peerOf(s: BgpSpeaker, address: string, asn: number, extra: object = {}) {
  s.addPeer({
    address,
    asn,
    passive: true,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    gracefulRestart: { restartTime: 60 },
    ...extra,
  });
}

/** One of our speakers as a helper router that connects to `s` and sends End-of-RIB at once. */
async function helperRouter(s: BgpSpeaker): Promise<{ router: BgpSpeaker; eor: string[] }> {
  const router = new BgpSpeaker({ asn: 65003, routerId: helperAddr, listen: false });
  cleanups.push(() => router.stop());
  const eor: string[] = [];
  router.on("end-of-rib", (_addr: string, f: string) => eor.push(f));
  router.originate({ prefix: "10.30.0.0/16" });
  router.addPeer({
    address: ours,
    asn: 65001,
    port: s.listenPort,
    localAddress: helperAddr,
    connectRetry: 1,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    gracefulRestart: { restartTime: 60 },
  });
  return { router, eor };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("restarting speaker (RFC 4724 §4.1)", () => {
  it("sends no routes and no End-of-RIB until every graceful-restart peer's End-of-RIB is in", async () => {
    const s = await restarted();
    s.originate({ prefix: "10.1.0.0/16" });
    const raw = new RawPeer(rawAddr, 65002);
    peerOf(s, rawAddr, 65002);
    peerOf(s, helperAddr, 65003);
    await raw.connect(s.listenPort!, GR());
    const { router, eor } = await helperRouter(s);
    await until(() => s.peerStatus(rawAddr)?.state === "Established", "raw peer Established");
    await until(() => s.peerStatus(helperAddr)?.state === "Established", "helper Established");
    // Our OPENs carry the R bit: peers keep our old routes while we come back.
    expect(raw.open()?.capabilities.gracefulRestart?.restarting).toBe(true);
    raw.announce("10.20.0.0/16");
    // The helper router has sent its table and End-of-RIB; the raw peer holds its End-of-RIB back.
    await until(() => s.receivedRoutes(helperAddr, "ipv4-unicast").length === 1, "helper's route learned");
    await until(() => s.receivedRoutes(rawAddr, "ipv4-unicast").length === 1, "raw peer's route learned");
    await sleep(500);
    expect(s.restartStatus()).toMatchObject({
      deferring: true,
      waiting: [{ family: "ipv4-unicast", peers: [rawAddr] }],
    });
    expect(raw.updates()).toEqual([]);
    expect(router.receivedRoutes(ours, "ipv4-unicast")).toEqual([]);
    expect(eor).toEqual([]);
    expect(s.bestRoutes("ipv4-unicast")).toEqual([]);

    raw.endOfRib();
    // Selection runs: our own route and each peer's route (learned, so it depended on the wait)
    // go to the other, and End-of-RIB follows the initial update.
    await until(() => raw.updates().includes("EoR"), "our End-of-RIB at the raw peer");
    expect(raw.updates().sort()).toEqual(["10.1.0.0/16", "10.30.0.0/16", "EoR"]);
    expect(raw.updates().at(-1)).toBe("EoR");
    await until(() => eor.includes("ipv4-unicast"), "our End-of-RIB at the helper router");
    expect(
      router
        .receivedRoutes(ours, "ipv4-unicast")
        .map((r) => r.prefix)
        .sort(),
    ).toEqual(["10.1.0.0/16", "10.20.0.0/16"]);
    expect(s.restartStatus()).toMatchObject({ deferring: false, completed: { reason: "end-of-rib" } });
  });

  it("the selection deferral timer ends the wait for a peer that never sends End-of-RIB", async () => {
    const s = await restarted({ deferral: 2 });
    s.originate({ prefix: "10.1.0.0/16" });
    const raw = new RawPeer(rawAddr, 65002);
    peerOf(s, rawAddr, 65002);
    const t0 = Date.now();
    await raw.connect(s.listenPort!, GR());
    raw.announce("10.20.0.0/16");
    await until(() => s.receivedRoutes(rawAddr, "ipv4-unicast").length === 1, "raw peer's route learned");
    expect(raw.updates()).toEqual([]);
    expect(s.restartStatus()?.deferring).toBe(true);
    await until(() => raw.updates().includes("EoR"), "our End-of-RIB after the deferral timer", 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500);
    expect(raw.updates()).toEqual(["10.1.0.0/16", "EoR"]);
    expect(s.restartStatus()?.completed?.reason).toBe("timer");
    expect(s.bestRoutes("ipv4-unicast").map((r) => r.prefix)).toEqual(["10.1.0.0/16", "10.20.0.0/16"]);
  });

  it("waits for a configured peer that is not up yet, until the deferral timer", async () => {
    const s = await restarted({ deferral: 2 });
    s.originate({ prefix: "10.1.0.0/16" });
    const raw = new RawPeer(rawAddr, 65002);
    peerOf(s, rawAddr, 65002);
    peerOf(s, helperAddr, 65003); // never connects
    await raw.connect(s.listenPort!, GR());
    await until(() => s.peerStatus(rawAddr)?.state === "Established", "raw peer Established");
    raw.endOfRib();
    await sleep(500);
    expect(s.restartStatus()?.waiting).toEqual([{ family: "ipv4-unicast", peers: [helperAddr] }]);
    expect(raw.updates()).toEqual([]);
    await until(() => raw.updates().includes("EoR"), "End-of-RIB after the timer", 10_000);
    expect(raw.updates()).toEqual(["10.1.0.0/16", "EoR"]);
  });

  it("does not wait for peers without the capability or restarting themselves, and drops the R bit afterwards", async () => {
    const s = await restarted();
    s.originate({ prefix: "10.1.0.0/16" });
    const plain = new RawPeer(rawAddr, 65002);
    const alsoRestarting = new RawPeer(helperAddr, 65003);
    peerOf(s, rawAddr, 65002);
    peerOf(s, helperAddr, 65003);
    await plain.connect(s.listenPort!); // no graceful-restart capability
    await alsoRestarting.connect(s.listenPort!, GR(true)); // R bit: it waits for us, not we for it
    await until(() => plain.updates().includes("EoR"), "End-of-RIB to the plain peer");
    await until(() => alsoRestarting.updates().includes("EoR"), "End-of-RIB to the restarting peer");
    expect(plain.updates()).toEqual(["10.1.0.0/16", "EoR"]);
    expect(s.restartStatus()?.completed?.reason).toBe("end-of-rib");
    // A later session (a flap, a config change) no longer claims a restart.
    plain.socket.destroy();
    await until(() => s.peerStatus(rawAddr)?.state !== "Established", "session down");
    await plain.connect(s.listenPort!);
    await until(() => plain.open(), "new OPEN");
    expect(plain.open()?.capabilities.gracefulRestart?.restarting).toBe(false);
    alsoRestarting.socket.destroy();
    await until(() => s.peerStatus(helperAddr)?.state !== "Established", "session down");
    await alsoRestarting.connect(s.listenPort!, GR());
    const open = await until(() => alsoRestarting.open(), "new OPEN");
    expect(open.capabilities.gracefulRestart?.restarting).toBe(false);
  });
});

describe("helper (receiving speaker, RFC 4724 §4.2)", () => {
  async function helper(restartTime = 1): Promise<{ s: BgpSpeaker; raw: RawPeer }> {
    const s = new BgpSpeaker({ asn: 65001, routerId: "1.1.1.1", listen: { port: 0, host: ours } });
    cleanups.push(() => s.stop());
    await s.start();
    peerOf(s, rawAddr, 65002, { gracefulRestart: { restartTime } });
    const raw = new RawPeer(rawAddr, 65002);
    await raw.connect(s.listenPort!, {
      gracefulRestart: {
        restarting: false,
        notification: false,
        time: restartTime,
        families: [{ family: "ipv4-unicast", forwardingPreserved: true }],
      },
    });
    raw.announce("10.20.0.0/16");
    raw.announce("10.21.0.0/16");
    await until(() => s.receivedRoutes(rawAddr, "ipv4-unicast").length === 2, "routes learned");
    return { s, raw };
  }

  const stale = (s: BgpSpeaker) =>
    s
      .receivedRoutes(rawAddr, "ipv4-unicast")
      .filter((r) => r.stale)
      .map((r) => r.prefix)
      .sort();

  it("removes stale routes when the peer does not come back within its restart time", async () => {
    const { s, raw } = await helper(1);
    raw.socket.destroy();
    await until(() => stale(s).length === 2, "routes kept as stale");
    expect(s.bestRoutes("ipv4-unicast")).toHaveLength(2);
    await until(() => s.receivedRoutes(rawAddr, "ipv4-unicast").length === 0, "stale routes removed", 5_000);
    expect(s.bestRoutes("ipv4-unicast")).toEqual([]);
  });

  it("once the peer is back, keeps stale routes past the restart time until its End-of-RIB", async () => {
    const { s, raw } = await helper(1);
    raw.socket.destroy();
    await until(() => stale(s).length === 2, "routes kept as stale");
    await raw.connect(s.listenPort!, GR(true));
    await until(() => s.peerStatus(rawAddr)?.state === "Established", "back");
    raw.announce("10.20.0.0/16");
    await until(() => stale(s).length === 1, "re-sent route fresh again");
    // The restart timer (1 s) stopped when the session came back; the stale-path timer is 360 s.
    await sleep(1_500);
    expect(stale(s)).toEqual(["10.21.0.0/16"]);
    raw.endOfRib();
    await until(() => stale(s).length === 0, "stale route removed at End-of-RIB");
    expect(s.receivedRoutes(rawAddr, "ipv4-unicast").map((r) => r.prefix)).toEqual(["10.20.0.0/16"]);
  });

  it("drops stale routes at once when the peer comes back without the Forwarding State bit", async () => {
    const { s, raw } = await helper(30);
    raw.socket.destroy();
    await until(() => stale(s).length === 2, "routes kept as stale");
    await raw.connect(s.listenPort!, GR(true, false));
    await until(() => s.peerStatus(rawAddr)?.state === "Established", "back");
    await until(() => s.receivedRoutes(rawAddr, "ipv4-unicast").length === 0, "stale routes dropped");
  });
});
