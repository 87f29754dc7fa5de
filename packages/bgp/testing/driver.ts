// Runs one BgpSpeaker inside a network namespace for the interop tests and the benchmark.
// Config comes as JSON in argv[2]; commands arrive as JSON lines on stdin and each gets one JSON
// line back on stdout, so the test process (outside the namespace) can drive and inspect it.
import readline from "node:readline";
import {
  BgpSpeaker,
  type Family,
  type OriginateRoute,
  type PeerConfig,
  type SpeakerConfig,
  type Transport,
} from "../src/index.js";

const cfg = JSON.parse(process.argv[2]!) as { speaker: SpeakerConfig; peers: PeerConfig[]; native?: boolean };
if (cfg.native) cfg.speaker.transport = await nativeTransport();
const speaker = new BgpSpeaker(cfg.speaker);
// BENCH_BEST_PATH=1: follow the Loc-RIB as the agent's kernel route installer does, to measure its cost.
if (process.env.BENCH_BEST_PATH) speaker.on("best-path", () => {});

/** TCP-MD5 and TTL through @meridian/native, the way the node agent wires it. */
async function nativeTransport(): Promise<Transport> {
  const native = await import("../../../native/index.js");
  const IPPROTO_IP = 0;
  const IP_TTL = 2;
  return {
    beforeConnect(fd, peer) {
      if (process.env.BGP_DEBUG) console.error("beforeConnect", fd, peer);
      if (peer.md5Password) native.setTcpMd5Sig(fd, peer.address, peer.md5Password);
      native.setsockoptInt(fd, IPPROTO_IP, IP_TTL, peer.ttl);
    },
    configureSocket(socket, peer) {
      native.setsockoptInt(native.socketFd(socket), IPPROTO_IP, IP_TTL, peer.ttl);
    },
    configureServer(server, peers, removedKeys = []) {
      const fd = native.socketFd(server);
      if (process.env.BGP_DEBUG) console.error("configureServer", fd, peers, removedKeys);
      const v6 = (server.address() as { family: string }).family === "IPv6";
      // A dual-stack listener keys IPv4 peers by their v4-mapped address.
      const form = (a: string) => (v6 && !a.includes(":") ? `::ffff:${a}` : a);
      for (const p of peers) if (p.md5Password) native.setTcpMd5Sig(fd, form(p.address), p.md5Password);
      for (const a of removedKeys) {
        try {
          native.setTcpMd5Sig(fd, form(a), "");
        } catch {
          // Already gone (ENOENT): nothing to take off.
        }
      }
    },
  };
}

type Command =
  | { id: number; op: "originate"; routes: OriginateRoute[] }
  | { id: number; op: "originate-many"; base: string; count: number; nextHop?: string }
  | { id: number; op: "withdraw"; routes: { family?: Family; prefix: string; rd?: string }[] }
  | { id: number; op: "status" }
  | { id: number; op: "received" | "advertised"; peer: string; family: Family }
  | { id: number; op: "counts"; family: Family }
  | { id: number; op: "memory" }
  | { id: number; op: "set-peers"; peers: PeerConfig[] }
  | { id: number; op: "stop"; graceful?: boolean };

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case "originate":
      for (const r of c.routes) speaker.originate(r);
      return true;
    case "originate-many": {
      // /32s counting up from base, for the VIP advertisement benchmark.
      const [a, b, cc, d] = c.base.split(".").map(Number) as [number, number, number, number];
      const start = ((a << 24) | (b << 16) | (cc << 8) | d) >>> 0;
      for (let i = 0; i < c.count; i++) {
        const x = start + i;
        speaker.originate({
          prefix: `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}/32`,
          nextHop: c.nextHop,
        });
      }
      return true;
    }
    case "withdraw":
      for (const r of c.routes) speaker.withdraw(r);
      return true;
    case "status":
      return speaker.status();
    case "received":
      return speaker.receivedRoutes(c.peer, c.family);
    case "advertised":
      return speaker.advertisedRoutes(c.peer, c.family);
    case "counts":
      return speaker.counts(c.family);
    case "memory":
      global.gc?.();
      return process.memoryUsage();
    case "set-peers":
      speaker.setPeers(c.peers);
      return true;
    case "stop":
      await speaker.stop({ graceful: c.graceful });
      setTimeout(() => process.exit(0), 100);
      return true;
  }
}

await speaker.start();
speaker.setPeers(cfg.peers);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const c = JSON.parse(line) as Command;
  handle(c).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: c.id, result })}\n`),
    (e: Error) => process.stdout.write(`${JSON.stringify({ id: c.id, error: e.message })}\n`),
  );
});
rl.on("close", () => process.exit(0));
