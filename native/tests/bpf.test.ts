import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isNativeError,
  libbpfVersion,
  openObject,
  openPinnedMap,
  openRingBuffer,
  possibleCpus,
} from "../index";
import { buildFixture, pinDirFor, requireBpf } from "./helpers";

let good: string;
let bad: string;
const dirs: string[] = [];
beforeAll(() => {
  requireBpf();
  good = buildFixture("good");
  bad = buildFixture("bad");
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
const frame = () => Buffer.concat([Buffer.alloc(12, 0x11), Buffer.from([0x08, 0x06]), Buffer.alloc(46)]);

describe("objects and programs", () => {
  it("reports the libbpf it was built against", () => {
    expect(libbpfVersion()).toMatch(/^v1\.\d+/);
  });

  it("loads an object with BTF and names its programs and maps", () => {
    const obj = openObject(good);
    try {
      expect(obj.programNames()).toEqual(["fx_prog", "fx_drop"]);
      expect(obj.mapNames()).toEqual(expect.arrayContaining(["fx_hash", "fx_percpu", "fx_ring"]));
      const prog = obj.program("fx_prog");
      expect(prog.info()).toMatchObject({ name: "fx_prog", type: 3 /* SCHED_CLS */ });
      prog.close();
    } finally {
      obj.close();
    }
  });

  it("runs a program on a packet: return code, rewritten bytes, duration", () => {
    const obj = openObject(good);
    const prog = obj.program("fx_prog");
    const drop = obj.program("fx_drop");
    obj.close(); // programs keep their own fds
    const r = prog.testRun({ data: frame(), repeat: 1000 });
    expect(r.retval).toBe(0);
    expect(r.data.length).toBe(60);
    expect(r.data[0]).toBe(0xab);
    expect(r.data.subarray(1).equals(frame().subarray(1))).toBe(true);
    expect(r.duration).toBeGreaterThan(0);
    expect(drop.testRun({ data: frame() }).retval).toBe(2);
    prog.close();
    drop.close();
  });

  it("surfaces the verifier log when a load fails", () => {
    let caught: unknown;
    try {
      openObject(bad);
    } catch (err) {
      caught = err;
    }
    expect(isNativeError(caught)).toBe(true);
    if (!isNativeError(caught)) return;
    expect(caught.message).toMatch(/bpf_object__load/);
    expect([13, 22]).toContain(caught.errno); // EACCES from the verifier (EINVAL on some kernels)
    expect(caught.code).toMatch(/^E/);
    expect(caught.libbpfLog).toMatch(/BEGIN PROG LOAD LOG/);
    expect(caught.libbpfLog).toMatch(/invalid access to packet/);
  });

  it("a missing file is an ENOENT error, not a crash", () => {
    expect(() => openObject("/nonexistent/x.o")).toThrow(
      expect.objectContaining({ errno: 2, code: "ENOENT" }),
    );
  });
});

describe("pinning", () => {
  it("pins maps under the pin dir and a second load reuses them (agent restart)", () => {
    const dir = pinDirFor("pin");
    dirs.push(dir);
    mkdirSync(dir);
    const first = openObject(good, { pinDir: dir });
    const m1 = first.map("fx_hash");
    m1.update(u32(0), u64(77));
    const id = m1.info().id;
    first.close();
    m1.close();
    expect(readdirSync(dir).sort()).toEqual(["fx_hash", "fx_percpu", "fx_ring"]);

    const second = openObject(good, { pinDir: dir });
    const m2 = second.map("fx_hash");
    expect(m2.info().id).toBe(id);
    expect(m2.lookup(u32(0))?.readBigUInt64LE()).toBe(77n);
    // The program of the second load sees the adopted state.
    const prog = second.program("fx_prog");
    const rb = openRingBuffer(second.map("fx_ring"));
    prog.testRun({ data: frame() });
    const recs = rb.consume();
    expect(recs).toHaveLength(1);
    expect(recs[0]?.readBigUInt64LE(8)).toBe(77n);
    rb.close();
    prog.close();
    m2.close();
    second.close();

    const byPath = openPinnedMap(`${dir}/fx_hash`);
    expect(byPath.info()).toMatchObject({ id, keySize: 4, valueSize: 8, maxEntries: 1024 });
    byPath.close();
  });

  it("without a pin dir each load gets fresh maps", () => {
    const a = openObject(good);
    const b = openObject(good);
    expect(a.map("fx_hash").info().id).not.toBe(b.map("fx_hash").info().id);
    a.close();
    b.close();
  });
});

describe("map operations", () => {
  it("update, lookup, delete and iterate", () => {
    const obj = openObject(good);
    const m = obj.map("fx_hash");
    obj.close();
    for (let i = 1; i <= 5; i++) m.update(u32(i), u64(i * 10));
    expect(m.lookup(u32(3))?.readBigUInt64LE()).toBe(30n);
    expect(m.lookup(u32(99))).toBeNull();
    expect(m.delete(u32(3))).toBe(true);
    expect(m.delete(u32(3))).toBe(false);
    const keys: number[] = [];
    for (let k = m.nextKey(null); k; k = m.nextKey(k)) keys.push(k.readUInt32LE());
    expect(keys.sort()).toEqual([1, 2, 4, 5]);
    // BPF_NOEXIST on an existing key is EEXIST.
    expect(() => m.update(u32(1), u64(0), 1)).toThrow(expect.objectContaining({ code: "EEXIST" }));
    m.close();
  });

  it("batch update and batch delete", () => {
    const obj = openObject(good);
    const m = obj.map("fx_hash");
    obj.close();
    const n = 500;
    const keys = Buffer.concat(Array.from({ length: n }, (_, i) => u32(i + 1000)));
    const values = Buffer.concat(Array.from({ length: n }, (_, i) => u64(i)));
    expect(m.updateBatch(keys, values, n)).toBe(n);
    expect(m.lookup(u32(1499))?.readBigUInt64LE()).toBe(499n);
    expect(m.deleteBatch(keys.subarray(0, 400 * 4), 400)).toBe(400);
    let count = 0;
    for (let k = m.nextKey(null); k; k = m.nextKey(k)) count++;
    expect(count).toBe(100);
    m.close();
  });

  it("dump reads every entry with batched lookups, across chunk boundaries", () => {
    const obj = openObject(good);
    const m = obj.map("fx_hash");
    obj.close();
    const n = 300;
    m.updateBatch(
      Buffer.concat(Array.from({ length: n }, (_, i) => u32(i))),
      Buffer.concat(Array.from({ length: n }, (_, i) => u64(i * 3))),
      n,
    );
    const d = m.dump(64);
    expect(d.count).toBe(n);
    expect(d.keys.length).toBe(n * 4);
    const seen = new Map<number, bigint>();
    for (let i = 0; i < d.count; i++) seen.set(d.keys.readUInt32LE(i * 4), d.values.readBigUInt64LE(i * 8));
    expect(seen.size).toBe(n);
    expect(seen.get(299)).toBe(897n);
    m.close();
  });

  it("per-CPU values come back one slot per possible CPU", () => {
    const obj = openObject(good);
    const prog = obj.program("fx_prog");
    const m = obj.map("fx_percpu");
    obj.close();
    prog.testRun({ data: frame(), repeat: 10 });
    const info = m.info();
    expect(info.perCpu).toBe(true);
    expect(info.valueBufferSize).toBe(8 * possibleCpus());
    const v = m.lookup(u32(0));
    let sum = 0n;
    for (let c = 0; c < possibleCpus(); c++) sum += v?.readBigUInt64LE(c * 8) ?? 0n;
    expect(sum).toBe(10n);
    prog.close();
    m.close();
  });

  it("rejects keys and values of the wrong size with a TypeError", () => {
    const obj = openObject(good);
    const m = obj.map("fx_hash");
    obj.close();
    expect(() => m.lookup(Buffer.alloc(3))).toThrow(TypeError);
    expect(() => m.update(u32(1), Buffer.alloc(4))).toThrow(TypeError);
    expect(() => m.updateBatch(Buffer.alloc(8), Buffer.alloc(8), 2)).toThrow(TypeError);
    m.close();
  });
});

describe("lifetimes", () => {
  it("every handle throws after close, and close twice is harmless", () => {
    const obj = openObject(good);
    const m = obj.map("fx_hash");
    const p = obj.program("fx_prog");
    const rb = openRingBuffer(obj.map("fx_ring"));
    obj.close();
    obj.close();
    expect(obj.closed).toBe(true);
    expect(() => obj.map("fx_hash")).toThrow(/BpfObject is closed/);
    m.close();
    expect(() => m.lookup(u32(0))).toThrow(/BpfMap is closed/);
    expect(() => m.fd).toThrow(/closed/);
    p.close();
    expect(() => p.testRun({ data: frame() })).toThrow(/BpfProgram is closed/);
    rb.close();
    expect(() => rb.consume()).toThrow(/RingBuffer is closed/);
  });

  it("handles cannot be constructed from JavaScript", async () => {
    const { native } = await import("../index");
    const Ctor = native.BpfMap as unknown as new (x: unknown) => unknown;
    expect(() => new Ctor(3)).toThrow(TypeError);
  });
});

describe("ring buffer", () => {
  it("delivers records from a native thread without blocking the event loop", async () => {
    const obj = openObject(good);
    const prog = obj.program("fx_prog");
    const got: Buffer[] = [];
    const rb = openRingBuffer(obj.map("fx_ring"), (recs) => got.push(...recs));
    obj.close();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    for (let i = 0; i < 20; i++) prog.testRun({ data: frame() });
    const deadline = Date.now() + 3000;
    while (got.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    clearInterval(timer);
    rb.close();
    prog.close();
    expect(got).toHaveLength(20);
    expect(got[0]?.readBigUInt64LE(0)).toBe(60n);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe("cleanup at exit", () => {
  it("a worker thread exiting closes its own handles, not the main thread's", async () => {
    const { Worker } = await import("node:worker_threads");
    const { addonPath } = await import("../index");
    const obj = openObject(good);
    const m = obj.map("fx_hash");
    obj.close();
    const w = new Worker(
      `const a = require(${JSON.stringify(addonPath)});
       const o = new a.BpfObject(${JSON.stringify(good)});
       o.map("fx_hash");
       require("worker_threads").parentPort.postMessage("loaded");`,
      { eval: true },
    );
    await new Promise<void>((resolve, reject) => {
      w.on("message", () => resolve());
      w.on("error", reject);
    });
    await w.terminate();
    m.update(u32(5), u64(5));
    expect(m.lookup(u32(5))?.readBigUInt64LE()).toBe(5n);
    m.close();
  });

  it("a process that never closes its handles exits cleanly", async () => {
    const { execFileSync } = await import("node:child_process");
    const script = `
      import { openObject, openRingBuffer } from ${JSON.stringify(new URL("../index.ts", import.meta.url).pathname)};
      const o = openObject(${JSON.stringify(good)});
      const rb = openRingBuffer(o.map("fx_ring"), () => {});
      o.program("fx_prog");
      setTimeout(() => process.exit(0), 50);
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      timeout: 15000,
      cwd: new URL("..", import.meta.url).pathname,
    });
    expect(out.toString()).toBe("");
    expect(existsSync("/proc/self")).toBe(true);
  });
});
