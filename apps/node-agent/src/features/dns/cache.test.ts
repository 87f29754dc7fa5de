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
    const c = new LearnedAddresses(() => 0, {
      perName: 1_000,
      perEndpoint: 1_000,
      perNode: 1_500,
      namesPerEntry: 4,
    });
    for (let i = 0; i < 100_000; i++) {
      // A wildcard record: every random name answers with one of a few addresses, or a fresh one.
      const address = i % 2 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : "192.0.2.9";
      c.learn(entry("shop/noisy", address, 60_000, [`r${i}.example.test`]));
    }
    expect(c.size).toBe(1_000);
    // 50,000 distinct addresses (and the shared one, evicted and learned again) for 1,000 places.
    expect(c.evicted["per-endpoint"]).toBeGreaterThanOrEqual(50_000 - 1_000);
    expect(c.evicted["per-name"]).toBe(0);
    expect(Math.max(...c.view().map((v) => v.names.length))).toBeLessThanOrEqual(4);
    // The newest addresses are the ones kept.
    expect(c.view().some((v) => v.address === "10.1.134.159")).toBe(true);
    // Another pod's entries still fit (per node 1,500), and the node total holds.
    for (let i = 0; i < 1_000; i++) c.learn(entry("shop/quiet", `198.51.${i >> 8}.${i & 255}`, 60_000));
    expect(c.size).toBe(1_500);
  });

  it("one answer with 3,000 addresses keeps its last ones within the per-name limit; the endpoint's other names keep theirs", () => {
    const c = new LearnedAddresses(() => 0, {
      perName: 100,
      perEndpoint: 1_000,
      perNode: 10_000,
      namesPerEntry: 4,
    });
    c.learn(entry("shop/a", "192.0.2.1", 60_000, ["www.example.test"]));
    const many = Array.from({ length: 3_000 }, (_, i) => `10.98.${i >> 8}.${i & 255}`);
    for (const address of many)
      c.learn(entry("shop/a", address, 60_000, ["many.example.test", "cdn.example.test"]));
    const kept = c
      .view()
      .filter((v) => v.names.includes("many.example.test"))
      .map((v) => v.address);
    expect(kept).toHaveLength(100);
    expect(new Set(kept)).toEqual(new Set(many.slice(-100)));
    expect(c.evicted).toEqual({ "per-name": 2_900, "per-endpoint": 0, "per-node": 0 });
    expect(c.view().map((v) => v.address)).toContain("192.0.2.1");
    expect(c.size).toBe(101);
    // Another endpoint asking the same name has its own 100.
    for (const address of many.slice(0, 150))
      c.learn(entry("shop/b", address, 60_000, ["many.example.test"]));
    expect(c.view().filter((v) => v.endpoint === "shop/b")).toHaveLength(100);
  });

  it("an address belongs to the name that answered it last: another name's overflow does not drop it", () => {
    const c = new LearnedAddresses(() => 0, { perName: 2, perEndpoint: 100, perNode: 100, namesPerEntry: 4 });
    c.learn(entry("shop/a", "192.0.2.1", 60_000, ["one.example.test"]));
    c.learn(entry("shop/a", "192.0.2.1", 60_000, ["two.example.test"]));
    c.learn(entry("shop/a", "192.0.2.2", 60_000, ["one.example.test"]));
    c.learn(entry("shop/a", "192.0.2.3", 60_000, ["one.example.test"]));
    c.learn(entry("shop/a", "192.0.2.4", 60_000, ["one.example.test"]));
    expect(c.view().map((v) => v.address)).toEqual(["192.0.2.1", "192.0.2.3", "192.0.2.4"]);
    // Asked again, an address becomes its name's newest: the next overflow drops another one.
    c.learn(entry("shop/a", "192.0.2.3", 60_000, ["one.example.test"]));
    expect(c.learn(entry("shop/a", "192.0.2.5", 60_000, ["one.example.test"]))).toBe(true);
    expect(c.view().map((v) => v.address)).toEqual(["192.0.2.1", "192.0.2.3", "192.0.2.5"]);
    // Saved and restored (an agent restart), each entry stays under its name.
    const restored = new LearnedAddresses(() => 0, {
      perName: 2,
      perEndpoint: 100,
      perNode: 100,
      namesPerEntry: 4,
    });
    restored.restore(JSON.parse(JSON.stringify(c.toJSON())));
    restored.learn(entry("shop/a", "192.0.2.6", 60_000, ["one.example.test"]));
    expect(restored.view().map((v) => v.address)).toEqual(["192.0.2.1", "192.0.2.5", "192.0.2.6"]);
  });

  it("evicts an endpoint's oldest without walking the other endpoints' entries", () => {
    const c = new LearnedAddresses(() => 0, {
      perName: 100_000,
      perEndpoint: 50_000,
      perNode: 100_000,
      namesPerEntry: 1,
    });
    const addr = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    // The quiet pod's 50,000 entries are the oldest on the node; the noisy pod then evicts 50,000 of its own.
    for (let i = 0; i < 50_000; i++) c.learn(entry("ns/quiet", addr(i), 60_000, [`q${i}.example.test`]));
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) c.learn(entry("ns/noisy", addr(i), 60_000, [`n${i}.example.test`]));
    const ms = performance.now() - t0;
    expect(c.size).toBe(100_000);
    expect(c.evicted).toEqual({ "per-name": 0, "per-endpoint": 50_000, "per-node": 0 });
    expect(c.view().filter((v) => v.endpoint === "ns/quiet")).toHaveLength(50_000);
    expect(c.dropEndpoint("ns/quiet")).toBe(true);
    expect(c.endpoints()).toEqual(["ns/noisy"]);
    // A walk from the node's oldest entry per eviction is 50,000 × 50,000 steps: minutes, not this.
    console.log(
      `100,000 learns, 50,000 per-endpoint evictions past 50,000 older entries: ${ms.toFixed(0)} ms`,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it("an answer's addresses past the per-name limit are not learned at all, only counted", () => {
    const c = new LearnedAddresses(() => 0, {
      perName: 100,
      perEndpoint: 1_000,
      perNode: 10_000,
      namesPerEntry: 4,
    });
    c.learn(entry("shop/a", "192.0.2.1", 60_000, ["many.example.test"]));
    const many = Array.from({ length: 3_000 }, (_, i) => ({
      address: `10.98.${i >> 8}.${i & 255}`,
      expiresAt: 60_000,
    }));
    const answer = {
      endpointId: "shop/a",
      endpointAddresses: ["10.0.0.6"],
      names: ["many.example.test"],
      addresses: many,
    };
    expect(c.learnAnswer({ ...answer, identities: [20971520, 20971521] })).toBe(true);
    // Two selectors: 2 entries an address, 100 entries for the name — its last 50 addresses.
    expect(c.size).toBe(100);
    expect(new Set(c.view().map((v) => v.address))).toEqual(new Set(many.slice(-50).map((a) => a.address)));
    expect(c.evicted["per-name"]).toBe(2 * 2_950 + 1);
    // The same answer again changes nothing.
    expect(c.learnAnswer({ ...answer, identities: [20971520, 20971521] })).toBe(false);
  });

  it("an address a limit evicts stays while a connection uses it, as expiry keeps one, and goes once idle", () => {
    const c = new LearnedAddresses(() => 0, { perName: 2, perEndpoint: 100, perNode: 100, namesPerEntry: 4 });
    for (const a of ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"])
      c.learn(entry("shop/a", a, 60_000, ["one.example.test"]));
    expect(c.evicted["per-name"]).toBe(2);
    expect(c.size).toBe(2);
    // Until the next connection check the evicted are still claimed (not shown as learned).
    expect(c.claims().map((x) => x.prefix)).toEqual(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    expect(c.view().map((v) => v.address)).toEqual(["192.0.2.3", "192.0.2.4"]);
    // The check: 192.0.2.1 carries a flow from the endpoint, 192.0.2.2 does not.
    expect(c.expired().map((e) => e.address)).toEqual(["192.0.2.1", "192.0.2.2"]);
    expect(c.expire(new Set(["10.0.0.6>192.0.2.1"]))).toBe(1);
    expect(c.claims().map((x) => x.prefix)).toEqual(["192.0.2.1", "192.0.2.3", "192.0.2.4"]);
    expect(c.view().find((v) => v.address === "192.0.2.1")).toMatchObject({
      heldByConnection: true,
      overLimit: true,
    });
    expect(c.reported(10).find((r) => r.address === "192.0.2.1")).toMatchObject({ heldByConnection: true });
    // Still within the limits' counts: the name holds its two newest.
    expect(c.size).toBe(2);
    // Idle: withdrawn at the next check.
    expect(c.expire(new Set())).toBe(1);
    expect(c.claims().map((x) => x.prefix)).toEqual(["192.0.2.3", "192.0.2.4"]);
    expect(c.deferredSize).toBe(0);
  });

  it("an evicted address answered again comes back within the limits; a dropped endpoint takes its evicted too", () => {
    const c = new LearnedAddresses(() => 0, { perName: 1, perEndpoint: 100, perNode: 100, namesPerEntry: 4 });
    c.learn(entry("shop/a", "192.0.2.1", 60_000, ["one.example.test"]));
    c.learn(entry("shop/a", "192.0.2.2", 60_000, ["one.example.test"]));
    expect(c.deferredSize).toBe(1);
    c.learn(entry("shop/a", "192.0.2.1", 60_000, ["two.example.test"]));
    // 192.0.2.1 is two's now (within), and still evicted from one's: no duplicate claim.
    expect(c.deferredSize).toBe(0);
    expect(c.claims()).toHaveLength(2);
    c.learn(entry("shop/a", "192.0.2.3", 60_000, ["one.example.test"]));
    expect(c.deferredSize).toBe(1);
    expect(c.dropEndpoint("shop/a")).toBe(true);
    expect(c.claims()).toEqual([]);
  });

  it("held or not, evicted entries are bounded: at most perNode / 10 beyond the limit, the oldest closed at once", () => {
    const c = new LearnedAddresses(() => 0, {
      perName: 100_000,
      perEndpoint: 1_000,
      perNode: 1_000,
      namesPerEntry: 1,
    });
    const addr = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    for (let i = 0; i < 100_000; i++) {
      c.learn(entry("ns/noisy", addr(i), 60_000, [`n${i}.example.test`]));
      // Every connection check finds every evicted address in use: the worst case for memory.
      if (i % 500 === 0) {
        const busy = new Set(c.expired().map((e) => `10.0.0.8>${e.address}`));
        c.expire(busy);
      }
    }
    expect(c.size).toBe(1_000);
    expect(c.deferredSize).toBe(100);
    expect(c.claims()).toHaveLength(1_100);
    expect(c.evicted["per-endpoint"]).toBe(99_000);
    // Saved and restored, the bound holds too.
    const restored = new LearnedAddresses(() => 0, {
      perName: 100_000,
      perEndpoint: 1_000,
      perNode: 1_000,
      namesPerEntry: 1,
    });
    restored.restore(JSON.parse(JSON.stringify(c.toJSON())));
    expect(restored.size + restored.deferredSize).toBeLessThanOrEqual(1_100);
  });
});
