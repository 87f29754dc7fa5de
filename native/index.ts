// Typed face of the meridian_native addon (src/addon.cc). Thin on purpose: it loads the
// binary and describes what it exports; what to pin, attach or write is decided by callers.
import { statfsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface MapInfo {
  id: number;
  type: number;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** Bytes a lookup returns / an update takes: valueSize, or round8(valueSize) × possible CPUs for per-CPU maps. */
  valueBufferSize: number;
  perCpu: boolean;
}

export interface BpfMap {
  readonly fd: number;
  readonly closed: boolean;
  info(): MapInfo;
  lookup(key: Buffer): Buffer | null;
  update(key: Buffer, value: Buffer, flags?: number): void;
  /** true when an entry was removed, false when there was none. */
  delete(key: Buffer): boolean;
  /** null → first key; null is returned after the last key. */
  nextKey(key: Buffer | null): Buffer | null;
  /** keys/values: count records back to back. Returns the count processed. Hash-type maps only. */
  updateBatch(keys: Buffer, values: Buffer, count: number, flags?: number): number;
  deleteBatch(keys: Buffer, count: number): number;
  /** Every entry via BPF_MAP_LOOKUP_BATCH (keys/values back to back). Throws where the map type lacks it. */
  dump(chunk?: number): { keys: Buffer; values: Buffer; count: number };
  pin(path: string): void;
  close(): void;
}

export interface TestRunResult {
  retval: number;
  data: Buffer;
  /** Average ns per run as measured by the kernel. */
  duration: number;
}

export interface BpfProgram {
  readonly fd: number;
  readonly closed: boolean;
  info(): { id: number; type: number; name: string; tag: Buffer };
  testRun(opts: { data: Buffer; repeat?: number; dataOutSize?: number }): TestRunResult;
  pin(path: string): void;
  close(): void;
}

export interface BpfObject {
  readonly closed: boolean;
  programNames(): string[];
  mapNames(): string[];
  /** A handle with its own fd: it outlives close() of the object. */
  program(name: string): BpfProgram;
  map(name: string): BpfMap;
  close(): void;
}

export interface LinkInfo {
  id: number;
  type: number;
  progId: number;
  ifindex?: number;
  attachType?: number;
}

export interface BpfLink {
  readonly fd: number;
  readonly closed: boolean;
  info(): LinkInfo;
  /** Atomically swap the program on the live link; with `expected`, only if it still runs that one. */
  update(program: BpfProgram, expected?: BpfProgram): void;
  pin(path: string): void;
  detach(): void;
  close(): void;
}

export interface RingBuffer {
  readonly closed: boolean;
  /** Drain what is there now; only for ring buffers opened without a callback. */
  consume(): Buffer[];
  close(): void;
}

export type TcxDirection = "ingress" | "egress";

export interface OpenOptions {
  /** Bind every non-internal map to <pinDir>/<map name>: reuse a compatible pin, or create and pin. */
  pinDir?: string;
  /** Kernel verifier log level for program loads (0 = only on failure). */
  logLevel?: number;
}

/** Error thrown by the addon for a failed syscall or libbpf call. */
export interface NativeError extends Error {
  errno: number;
  code: string;
  /** Everything libbpf printed during the call, e.g. the verifier log. */
  libbpfLog: string;
}

interface Addon {
  BpfObject: new (path: string, opts?: OpenOptions) => BpfObject;
  BpfMap: { fromPinned(path: string): BpfMap };
  BpfProgram: { fromPinned(path: string): BpfProgram };
  BpfLink: {
    attachTcx(program: BpfProgram, ifindex: number, direction: TcxDirection): BpfLink;
    fromPinned(path: string): BpfLink;
  };
  RingBuffer: new (map: BpfMap, onRecords?: (records: Buffer[]) => void) => RingBuffer;
  setTcpMd5Sig(fd: number, peerAddress: string, key: Buffer | string, prefixLength?: number): void;
  setIpTransparent(fd: number, on: boolean): void;
  getOriginalDst(fd: number): { address: string; port: number };
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  /** Run fn synchronously with the calling thread in another network namespace (e.g. /run/netns/NAME). */
  runInNetns<T>(nsPath: string, fn: () => T): T;
  ifNameToIndex(name: string): number;
  possibleCpus(): number;
  libbpfVersion(): string;
  setDebug(on: boolean): void;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const addonPath = path.join(here, "build", "Release", "meridian_native.node");

function load(): Addon {
  const require = createRequire(import.meta.url);
  try {
    return require(addonPath) as Addon;
  } catch (err) {
    throw new Error(
      `cannot load ${addonPath}: run \`npm run build -w @meridian/native\` (needs libbpf-dev, a C++ compiler): ${String(err)}`,
    );
  }
}

export const native: Addon = load();

export const {
  BpfLink: BpfLinkClass,
  RingBuffer: RingBufferClass,
  setTcpMd5Sig,
  setIpTransparent,
  getOriginalDst,
  setsockoptInt,
  getsockoptInt,
  ifNameToIndex,
  runInNetns,
  possibleCpus,
  libbpfVersion,
} = native;

export function openObject(file: string, opts: OpenOptions = {}): BpfObject {
  return new native.BpfObject(file, opts);
}
export function openPinnedMap(file: string): BpfMap {
  return native.BpfMap.fromPinned(file);
}
export function openPinnedProgram(file: string): BpfProgram {
  return native.BpfProgram.fromPinned(file);
}
export function attachTcx(program: BpfProgram, ifindex: number, direction: TcxDirection): BpfLink {
  return native.BpfLink.attachTcx(program, ifindex, direction);
}
export function openPinnedLink(file: string): BpfLink {
  return native.BpfLink.fromPinned(file);
}
export function openRingBuffer(map: BpfMap, onRecords?: (records: Buffer[]) => void): RingBuffer {
  return new native.RingBuffer(map, onRecords);
}

export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as Partial<NativeError>).errno === "number";
}

const BPF_FS_MAGIC = 0xcafe4a11;

/** True when `dir` (default /sys/fs/bpf) is on a bpffs mount. */
export function isBpffs(dir = "/sys/fs/bpf"): boolean {
  try {
    return statfsSync(dir).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** The fd behind a net.Socket / net.Server / dgram.Socket (Linux, libuv). */
export function socketFd(sock: unknown): number {
  const handle = (sock as { _handle?: { fd?: number } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new TypeError("socket has no file descriptor (not open yet?)");
  return fd;
}
