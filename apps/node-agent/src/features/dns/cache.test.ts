// The learned-address cache: TTLs, connections that keep an address, and the limits that keep a pod
// resolving random names from growing the agent's memory without bound.
import { describe, expect, it } from "vitest";
import { LearnedAddresses } from "./cache.js";

const entry = (endpointId: string, address: string, expiresAt: number, names = ["a.example.test"]) => ({
  endpointId,
  endpointAddresses: [`10.0.0.${endpointId.length}`],
  address,
  identity: 20971520,
  names,
  expiresAt,
});

describe("learned addresses", () => {
  it("expire after their TTL unless a flow from the endpoint to them is still in use", () => {
    let now = 1_000;
    const c = new LearnedAddresses(() => now);
    c.learn(entry("shop/a", "192.0.2.1", 2_000));
    c.learn(entry("shop/a", "192.0.2.2", 2_000));
    now = 2_500;
    expect(c.expired().map((e) => e.address)).toEqual(["192.0.2.1", "192.0.2.2"]);
    expect(c.expire(new Set(["10.0.0.6>192.0.2.2"]))).toBe(1);
    expect(c.claims()).toEqual([{ prefix: "192.0.2.2", identity: 20971520 }]);
    expect(c.view()[0]).toMatchObject({ address: "192.0.2.2", heldByConnection: true });
    expect(c.expire(new Set())).toBe(1);
    expect(c.claims()).toEqual([]);
  });

  it("reports one row per endpoint and address (selectors merged), newest expiry first, bounded, with absolute expiry", () => {
    const c = new LearnedAddresses(() => 1_000);
    c.learn(entry("shop/a", "192.0.2.1", 5_000, ["x.example.test"]));
    c.learn({ ...entry("shop/a", "192.0.2.1", 9_000, ["y.example.test"]), identity: 20971521 });
    c.learn(entry("shop/a", "192.0.2.2", 7_000));
    c.learn(entry("shop/b", "192.0.2.3", 3_000));
    expect(c.reported(10)).toEqual([
      {
        endpoint: "shop/a",
        address: "192.0.2.1",
        names: ["x.example.test", "y.example.test"],
        expiresAt: new Date(9_000).toISOString(),
        heldByConnection: false,
      },
      {
        endpoint: "shop/a",
        address: "192.0.2.2",
        names: ["a.example.test"],
        expiresAt: new Date(7_000).toISOString(),
        heldByConnection: false,
      },
      {
        endpoint: "shop/b",
        address: "192.0.2.3",
        names: ["a.example.test"],
        expiresAt: new Date(3_000).toISOString(),
        heldByConnection: false,
      },
    ]);
    expect(c.reported(2).map((r) => r.address)).toEqual(["192.0.2.1", "192.0.2.2"]);
  });

  it("100,000 random names from one pod stay within the per-endpoint and per-entry limits, oldest evicted", () => {
    const c = new LearnedAddresses(() => 0, { perEndpoint: 1_000, perNode: 1_500, namesPerEntry: 4 });
    for (let i = 0; i < 100_000; i++) {
      // A wildcard record: every random name answers with one of a few addresses, or a fresh one.
      const address = i % 2 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : "192.0.2.9";
      c.learn(entry("shop/noisy", address, 60_000, [`r${i}.example.test`]));
    }
    expect(c.size).toBe(1_000);
    // 50,000 distinct addresses (and the shared one, evicted and learned again) for 1,000 places.
    expect(c.evicted).toBeGreaterThanOrEqual(50_000 - 1_000);
    expect(Math.max(...c.view().map((v) => v.names.length))).toBeLessThanOrEqual(4);
    // The newest addresses are the ones kept.
    expect(c.view().some((v) => v.address === "10.1.134.159")).toBe(true);
    // Another pod's entries still fit (per node 1,500), and the node total holds.
    for (let i = 0; i < 1_000; i++) c.learn(entry("shop/quiet", `198.51.${i >> 8}.${i & 255}`, 60_000));
    expect(c.size).toBe(1_500);
  });
});
