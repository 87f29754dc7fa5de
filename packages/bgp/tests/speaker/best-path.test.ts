// The "best-path" event: what a kernel route installer (or anyone following the Loc-RIB) sees.
import { afterEach, describe, expect, it } from "vitest";
import type { BestPathChange, BgpSpeaker } from "../../src/index.js";
import { type Pair, pair, until } from "./helpers.js";

let p: Pair | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

const established = (s: BgpSpeaker, addr: string) => s.peerStatus(addr)?.state === "Established";

/** Every batch B emits, and B's view of each prefix after the latest batch. */
function follow(s: BgpSpeaker) {
  const batches: BestPathChange[][] = [];
  const latest = new Map<string, BestPathChange>();
  s.on("best-path", (changes: BestPathChange[]) => {
    batches.push(changes);
    for (const c of changes) latest.set(c.prefix, c);
  });
  return { batches, latest };
}

describe('"best-path" event', () => {
  it("reports learned prefixes with their peer and next hop, batched, and withdrawals as no best", async () => {
    p = await pair(
      {},
      {},
      { families: ["ipv4-unicast", "ipv6-unicast"], nextHopIpv6: "fd99::1" },
      {
        families: ["ipv4-unicast", "ipv6-unicast"],
      },
    );
    const { batches, latest } = follow(p.b);
    await until(() => established(p!.a, p!.bAddr), "Established");
    for (let i = 0; i < 200; i++) p.a.originate({ prefix: `10.${i}.0.0/16` });
    p.a.originate({ prefix: "2001:db8:1::/48" });
    await until(() => latest.size === 201, "201 prefixes at B");
    // Batched, not one event per prefix: the prefixes go out in two UPDATEs (200 IPv4 ones, about
    // 650 bytes, and the IPv6 one), and B emits at most one event per read, so the 200 come in one.
    const v4 = batches.map((b) => b.filter((c) => c.family === "ipv4-unicast").length).filter((n) => n > 0);
    expect(v4).toEqual([200]);
    expect(batches.length).toBeLessThanOrEqual(2);
    expect(latest.get("10.7.0.0/16")).toMatchObject({
      family: "ipv4-unicast",
      best: { from: p.aAddr, nextHops: [p.aAddr], stale: false },
    });
    expect(latest.get("2001:db8:1::/48")).toMatchObject({
      family: "ipv6-unicast",
      best: { from: p.aAddr, nextHops: ["fd99::1"] },
    });
    expect(p.b.bestPath("ipv4-unicast", "10.7.0.0/16")?.from).toBe(p.aAddr);

    p.a.withdraw({ prefix: "10.7.0.0/16" });
    await until(() => latest.get("10.7.0.0/16")?.best === undefined, "withdrawal at B");
    expect(p.b.bestPath("ipv4-unicast", "10.7.0.0/16")).toBeUndefined();
    expect(latest.get("10.8.0.0/16")?.best?.from).toBe(p.aAddr);
  });

  it("our own origination is a best path from local; a session going down empties the peer's", async () => {
    p = await pair();
    const { latest } = follow(p.b);
    await until(() => established(p!.b, p!.aAddr), "Established");
    p.b.originate({ prefix: "192.0.2.0/24" });
    p.a.originate({ prefix: "198.51.100.0/24" });
    await until(() => latest.get("198.51.100.0/24")?.best, "A's route at B");
    expect(latest.get("192.0.2.0/24")?.best?.from).toBe("local");
    p.b.removePeer(p.aAddr);
    await until(() => latest.get("198.51.100.0/24") && !latest.get("198.51.100.0/24")!.best, "gone at B");
  });

  it("a removed listener hears nothing, and the next listener gets no backlog from while nobody listened", async () => {
    p = await pair();
    const seen: BestPathChange[][] = [];
    const listener = (c: BestPathChange[]) => seen.push(c);
    p.b.on("best-path", listener);
    p.b.off("best-path", listener);
    await until(() => established(p!.b, p!.aAddr), "Established");
    p.a.originate({ prefix: "203.0.113.0/24" });
    await until(() => p!.b.bestPath("ipv4-unicast", "203.0.113.0/24"), "route at B");
    // Barrier: a new listener hears a later route, so any event about the first one has been emitted.
    const next = follow(p.b);
    p.a.originate({ prefix: "198.51.100.0/24" });
    await until(() => next.latest.get("198.51.100.0/24"), "the later route, heard by the new listener");
    expect(seen).toEqual([]);
    expect([...next.latest.keys()]).toEqual(["198.51.100.0/24"]);
  });
});
