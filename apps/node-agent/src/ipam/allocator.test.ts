import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Ipam, IpamExhaustedError } from "./allocator.js";
import { bigIntToIp, ipToBigInt, parseCidr } from "./cidr.js";

const dirs: string[] = [];
function stateDir() {
  const d = mkdtempSync(path.join(tmpdir(), "mrd-ipam-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("CIDR parsing", () => {
  it("names the problem in a bad CIDR", () => {
    expect(() => parseCidr("10.244.1.5/24")).toThrow(/host bits set \(network is 10\.244\.1\.0\)/);
    expect(() => parseCidr("10.244.1.0")).toThrow(/not a CIDR/);
    expect(() => parseCidr("fd00::/129")).toThrow(/longer than 128 bits/);
    expect(() => parseCidr("nope/24")).toThrow(/"nope" is not an IP address/);
  });
  it("round-trips IPv6 in canonical form", () => {
    for (const a of ["fd00:10:244:1::5", "::1", "fe80::1", "2001:db8:0:1:1:1:1:1", "::"]) {
      expect(bigIntToIp(ipToBigInt(a), 6)).toBe(a);
    }
    expect(parseCidr("fd00:10:244:1:0::/64").text).toBe("fd00:10:244:1::/64");
  });
});

describe("agent IPAM", () => {
  it("gives one address per PodCIDR, skipping the network address", async () => {
    const ipam = await Ipam.open(["10.244.1.0/24", "fd00:10:244:1::/64"], stateDir());
    const a = await ipam.allocate("c1", "eth0");
    expect(a.addresses).toEqual(["10.244.1.1", "fd00:10:244:1::1"]);
  });

  it("is idempotent per (container, ifname) and distinct across keys", async () => {
    const ipam = await Ipam.open(["10.244.1.0/24"], stateDir());
    const first = await ipam.allocate("c1", "eth0");
    expect(await ipam.allocate("c1", "eth0")).toEqual(first);
    const second = await ipam.allocate("c1", "net1");
    expect(second.addresses).not.toEqual(first.addresses);
  });

  it("hands out distinct addresses to concurrent requests and frees them all on release", async () => {
    const ipam = await Ipam.open(["10.244.1.0/24"], stateDir());
    const allocs = await Promise.all(Array.from({ length: 50 }, (_, i) => ipam.allocate(`c${i}`, "eth0")));
    expect(new Set(allocs.map((a) => a.addresses[0])).size).toBe(50);
    await Promise.all(allocs.map((a) => ipam.release(a.containerId, a.ifname)));
    expect(ipam.list()).toEqual([]);
    expect(ipam.capacity()[0]!.used).toBe(0);
  });

  it("survives a restart: a reopened IPAM never re-issues a held address", async () => {
    const dir = stateDir();
    const before = await Ipam.open(["10.244.1.0/30"], dir);
    const held = await before.allocate("c1", "eth0");
    const after = await Ipam.open(["10.244.1.0/30"], dir);
    expect(after.get("c1", "eth0")).toEqual(held);
    const other = await after.allocate("c2", "eth0");
    expect(other.addresses[0]).not.toBe(held.addresses[0]);
  });

  it("reports exhaustion naming the pool, and recovers after a release", async () => {
    const ipam = await Ipam.open(["10.244.1.0/30"], stateDir()); // .1 and .2 usable
    await ipam.allocate("a", "eth0");
    await ipam.allocate("b", "eth0");
    await expect(ipam.allocate("c", "eth0")).rejects.toThrow(IpamExhaustedError);
    await expect(ipam.allocate("c", "eth0")).rejects.toThrow(/10\.244\.1\.0\/30 has no free address/);
    await ipam.release("a", "eth0");
    expect((await ipam.allocate("c", "eth0")).addresses).toEqual(["10.244.1.1"]);
  });

  it("does not reuse a just-freed address while others are free", async () => {
    const ipam = await Ipam.open(["10.244.1.0/24"], stateDir());
    const a = await ipam.allocate("a", "eth0");
    await ipam.release("a", "eth0");
    const b = await ipam.allocate("b", "eth0");
    expect(b.addresses[0]).not.toBe(a.addresses[0]);
  });

  it("release of an unknown key is a no-op", async () => {
    const ipam = await Ipam.open(["10.244.1.0/24"], stateDir());
    expect(await ipam.release("ghost", "eth0")).toBeUndefined();
  });
});
