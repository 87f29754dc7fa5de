// Agent-side IPAM: one address per PodCIDR per (container id, ifname), persisted under the
// state dir before any interface exists, so a crash between allocation and plumbing can
// only leave an allocation that DEL (or the next ADD of the same key) reclaims — never an
// address handed out twice.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { bigIntToIp, type Cidr, contains, ipToBigInt, parseCidr } from "./cidr.js";

export interface Allocation {
  containerId: string;
  ifname: string;
  /** One address per pool, in pool order. */
  addresses: string[];
}

interface PersistedState {
  version: 1;
  /** Per pool: the last address handed out, so freed addresses are not reused at once. */
  cursors: Record<string, string>;
  allocations: Record<string, Allocation>;
}

export class IpamExhaustedError extends Error {
  constructor(readonly pool: string) {
    super(`PodCIDR ${pool} has no free address`);
    this.name = "IpamExhaustedError";
  }
}

export function allocationKey(containerId: string, ifname: string): string {
  return `${containerId}/${ifname}`;
}

export class Ipam {
  private readonly pools: Cidr[];
  private state: PersistedState = { version: 1, cursors: {}, allocations: {} };
  /** Serialises every read-modify-write of the state file. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    podCIDRs: string[],
    private readonly file: string,
  ) {
    this.pools = podCIDRs.map(parseCidr);
  }

  static async open(podCIDRs: string[], stateDir: string): Promise<Ipam> {
    const ipam = new Ipam(podCIDRs, path.join(stateDir, "ipam.json"));
    await mkdir(stateDir, { recursive: true });
    try {
      const raw = JSON.parse(await readFile(ipam.file, "utf8")) as PersistedState;
      if (raw.version === 1) ipam.state = raw;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return ipam;
  }

  get poolTexts(): string[] {
    return this.pools.map((p) => p.text);
  }

  /** Idempotent: the same key always gets the same addresses until released. */
  allocate(containerId: string, ifname: string): Promise<Allocation> {
    return this.locked(async () => {
      const key = allocationKey(containerId, ifname);
      const existing = this.state.allocations[key];
      if (existing) return existing;
      const taken = new Set<string>();
      for (const a of Object.values(this.state.allocations)) for (const ip of a.addresses) taken.add(ip);
      const addresses = this.pools.map((pool) => this.pick(pool, taken));
      const alloc: Allocation = { containerId, ifname, addresses };
      this.state.allocations[key] = alloc;
      for (const [i, pool] of this.pools.entries()) this.state.cursors[pool.text] = addresses[i]!;
      await this.persist();
      return alloc;
    });
  }

  /** Returns the released allocation, or undefined when the key held none (not an error). */
  release(containerId: string, ifname: string): Promise<Allocation | undefined> {
    return this.locked(async () => {
      const key = allocationKey(containerId, ifname);
      const existing = this.state.allocations[key];
      if (!existing) return undefined;
      delete this.state.allocations[key];
      await this.persist();
      return existing;
    });
  }

  get(containerId: string, ifname: string): Allocation | undefined {
    return this.state.allocations[allocationKey(containerId, ifname)];
  }

  list(): Allocation[] {
    return Object.values(this.state.allocations);
  }

  /** Free addresses per pool, for status and metrics. */
  capacity(): { pool: string; used: number; usable: bigint }[] {
    return this.pools.map((pool) => ({
      pool: pool.text,
      used: this.list().filter((a) => a.addresses.some((ip) => contains(pool, ip))).length,
      usable: usableCount(pool),
    }));
  }

  private pick(pool: Cidr, taken: Set<string>): string {
    const first = pool.base + 1n; // the network address (and IPv6 subnet-router anycast) is never a pod
    const last =
      pool.family === 4 && pool.size > 2n ? pool.base + pool.size - 2n : pool.base + pool.size - 1n;
    if (last < first) throw new IpamExhaustedError(pool.text);
    const cursorText = this.state.cursors[pool.text];
    const cursor = cursorText && contains(pool, cursorText) ? ipToBigInt(cursorText) : first - 1n;
    // Scan from just after the last allocation, wrapping once: like host-local, this keeps a
    // just-freed address out of circulation for as long as possible (stale conntrack, ARP).
    const span = last - first + 1n;
    const limit = span < 1_000_000n ? span : 1_000_000n;
    for (let i = 0n; i < limit; i++) {
      const candidate = first + ((cursor - first + 1n + i + span) % span);
      const text = bigIntToIp(candidate, pool.family);
      if (!taken.has(text)) return text;
    }
    throw new IpamExhaustedError(pool.text);
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async persist(): Promise<void> {
    // Write-then-rename: a crash leaves either the old or the new file, never half of one.
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(this.state, null, 1));
    await rename(tmp, this.file);
  }
}

function usableCount(pool: Cidr): bigint {
  if (pool.family === 4 && pool.size > 2n) return pool.size - 2n;
  return pool.size - 1n;
}
