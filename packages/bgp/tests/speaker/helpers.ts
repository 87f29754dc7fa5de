import { BgpSpeaker, type PeerConfig, type SpeakerConfig } from "../../src/index.js";

/** Polls until `fn` returns a truthy value, failing with `what` after `ms`. */
export async function until<T>(fn: () => T, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Pair {
  a: BgpSpeaker;
  b: BgpSpeaker;
  aAddr: string;
  bAddr: string;
  stop(): Promise<void>;
}

let next = 10 + (process.pid % 200);

/**
 * Two of our speakers on loopback addresses (127.x.y.1 and .2 are all local on Linux), each listening
 * on its own ephemeral port. A is active towards B; B is passive unless told otherwise.
 */
export async function pair(
  aCfg: Partial<SpeakerConfig> = {},
  bCfg: Partial<SpeakerConfig> = {},
  aPeer: Partial<PeerConfig> = {},
  bPeer: Partial<PeerConfig> = {},
): Promise<Pair> {
  const n = next++;
  const aAddr = `127.77.${n}.1`;
  const bAddr = `127.77.${n}.2`;
  const a = new BgpSpeaker({ asn: 65001, routerId: "1.1.1.1", listen: { port: 0, host: aAddr }, ...aCfg });
  const b = new BgpSpeaker({ asn: 65002, routerId: "2.2.2.2", listen: { port: 0, host: bAddr }, ...bCfg });
  await a.start();
  await b.start();
  b.addPeer({
    address: aAddr,
    asn: a.config.asn,
    passive: true,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    holdTime: 9,
    ...bPeer,
  });
  a.addPeer({
    address: bAddr,
    asn: b.config.asn,
    port: b.listenPort,
    localAddress: aAddr,
    importPolicy: "accept-all",
    exportPolicy: "accept-all",
    holdTime: 9,
    connectRetry: 1,
    ...aPeer,
  });
  return {
    a,
    b,
    aAddr,
    bAddr,
    async stop() {
      await a.stop();
      await b.stop();
    },
  };
}
