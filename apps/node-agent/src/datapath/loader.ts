// Loads the datapath's BPF objects, binds their maps to the pin directory, and
// attaches programs with tcx links that are pinned too — so an agent restart adopts
// the running datapath (maps reused, links updated in place) instead of rebuilding it.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { objectPath } from "@meridian/bpf";
import {
  attachTcx,
  type BpfLink,
  type BpfProgram,
  isBpffs,
  openObject,
  openPinnedLink,
  openPinnedMap,
  runInNetns,
  type TcxDirection,
} from "@meridian/native";
import { DatapathMaps, FEATURE_MAP_NAMES, MAP_NAMES, type MapName } from "./maps";

export const DEFAULT_PIN_DIR = "/sys/fs/bpf/meridian";

export const ATTACH_POINTS = ["from_pod", "to_pod", "from_net", "to_net"] as const;
export type AttachPoint = (typeof ATTACH_POINTS)[number];

/** Where each program hooks: pod veth host side or uplink, tcx ingress or egress. */
export const HOOK: Record<AttachPoint, TcxDirection> = {
  from_pod: "ingress",
  to_pod: "egress",
  from_net: "ingress",
  to_net: "egress",
};

export interface PinnedDatapathOptions {
  /** Pin directory on a bpffs; default /sys/fs/bpf/meridian. */
  pinDir?: string;
  /** Override where an attach point's object comes from (tests, upgrades). */
  objectFor?: (point: AttachPoint) => string;
}

export interface AttachTarget {
  ifindex: number;
  /** Network namespace the device lives in (e.g. /run/netns/NAME); default: ours. */
  netnsPath?: string;
  /** Unique name for the link pin, e.g. the interface name. Default: the ifindex. */
  name?: string;
}

/**
 * The datapath's programs and maps as they are pinned under one directory (one per node): what
 * `load` created or adopted, and the tcx links it attaches. The agent's policy subsystem drives it
 * through `EbpfDatapath`; the BPF tests and the benchmark use it directly.
 */
export class PinnedDatapath {
  /** What this load had to change in the pin directory to adopt it (stale or reshaped maps). */
  migrations: string[] = [];

  private constructor(
    readonly pinDir: string,
    readonly programs: Record<AttachPoint, BpfProgram>,
    readonly maps: DatapathMaps,
  ) {}

  /**
   * Load all four objects. The first creates and pins the maps, the others (and a
   * later agent) reuse them. Program handles keep their own fds; objects are closed.
   */
  static load(opts: PinnedDatapathOptions = {}): PinnedDatapath {
    const pinDir = opts.pinDir ?? DEFAULT_PIN_DIR;
    const parent = path.dirname(pinDir);
    if (!isBpffs(parent) && !isBpffs(pinDir)) {
      throw new Error(`${parent} is not a bpffs mount (mount -t bpf bpf /sys/fs/bpf)`);
    }
    const fresh = !existsSync(pinDir);
    mkdirSync(path.join(pinDir, "links"), { recursive: true });
    const migrations = fresh ? [] : removeStalePins(pinDir);
    try {
      const dp = PinnedDatapath.loadObjects(pinDir, fresh, opts);
      dp.migrations = migrations;
      return dp;
    } catch (err) {
      if (fresh) throw err;
      // A pinned map of another layout (an upgrade changed a map) makes libbpf refuse the load:
      // find which, start those afresh, and load again.
      const reshaped = reshapedPins(pinDir, opts);
      if (reshaped.length === 0) throw err;
      for (const r of reshaped) rmSync(path.join(pinDir, r.name), { force: true });
      const dp = PinnedDatapath.loadObjects(pinDir, fresh, opts);
      dp.migrations = [...migrations, ...reshaped.map((r) => r.note)];
      return dp;
    }
  }

  private static loadObjects(pinDir: string, fresh: boolean, opts: PinnedDatapathOptions): PinnedDatapath {
    const programs = {} as Record<AttachPoint, BpfProgram>;
    const maps = {} as Record<MapName, ReturnType<ReturnType<typeof openObject>["map"]>>;
    try {
      for (const point of ATTACH_POINTS) {
        const obj = openObject(opts.objectFor?.(point) ?? objectPath(point), { pinDir });
        try {
          programs[point] = obj.program(point);
          if (point === "from_pod") for (const n of MAP_NAMES) maps[n] = obj.map(n);
        } finally {
          obj.close();
        }
      }
    } catch (err) {
      for (const p of Object.values(programs)) p.close();
      for (const m of Object.values(maps)) m.close();
      // A pin dir this call created holds nothing anyone adopted yet: leave no trace.
      if (fresh) rmSync(pinDir, { recursive: true, force: true });
      throw err;
    }
    return new PinnedDatapath(pinDir, programs, new DatapathMaps(maps));
  }

  private linkPin(point: AttachPoint, t: AttachTarget): string {
    // bpffs refuses names with a dot (EPERM), and interface names may have one (eth0.100).
    const dev = String(t.name ?? t.ifindex).replaceAll(".", "_");
    return path.join(this.pinDir, "links", `${dev}-${point}`);
  }

  /**
   * Attach `point`'s program to a device. When a pinned link for the same device already
   * exists (a previous agent attached it), the program on it is replaced atomically
   * instead: no moment without a program. A pin left by a device that is gone is replaced.
   */
  attach(point: AttachPoint, target: AttachTarget, program: BpfProgram = this.programs[point]): BpfLink {
    const pin = this.linkPin(point, target);
    if (existsSync(pin)) {
      const link = openPinnedLink(pin);
      if (link.info().ifindex === target.ifindex) {
        try {
          link.update(program);
        } catch (err) {
          link.close();
          throw err;
        }
        return link;
      }
      // The pin outlived its device (pod deleted, veth recreated): drop it, attach afresh.
      try {
        link.detach();
      } catch {
        // Already detached with its device.
      }
      link.close();
      rmSync(pin, { force: true });
    }
    const make = () => attachTcx(program, target.ifindex, HOOK[point]);
    const link = target.netnsPath ? runInNetns(target.netnsPath, make) : make();
    try {
      link.pin(pin);
    } catch (err) {
      link.detach();
      link.close();
      throw err;
    }
    return link;
  }

  /** Swap the program on an attached link (upgrade, or a test of live replacement). */
  replace(point: AttachPoint, target: AttachTarget, program: BpfProgram): void {
    const link = openPinnedLink(this.linkPin(point, target));
    try {
      link.update(program);
    } finally {
      link.close();
    }
  }

  /** Detach and forget the pinned link. Returns false when nothing was attached. */
  detach(point: AttachPoint, target: AttachTarget): boolean {
    const pin = this.linkPin(point, target);
    if (!existsSync(pin)) return false;
    const link = openPinnedLink(pin);
    try {
      link.detach();
    } finally {
      link.close();
      rmSync(pin, { force: true });
    }
    return true;
  }

  /** Close our handles. Pinned maps and links stay: the datapath keeps running. */
  close(): void {
    for (const p of Object.values(this.programs)) p.close();
    this.maps.close();
  }

  /** Remove every pin (links detach once the last reference goes). For teardown and tests. */
  static destroy(pinDir: string): void {
    if (!existsSync(pinDir) || !statSync(pinDir).isDirectory()) return;
    const links = path.join(pinDir, "links");
    if (existsSync(links)) {
      for (const f of readdirSync(links)) {
        try {
          const l = openPinnedLink(path.join(links, f));
          l.detach();
          l.close();
        } catch {
          // Already gone with its device: removing the pin is enough.
        }
      }
    }
    rmSync(pinDir, { recursive: true, force: true });
  }
}

// ---- upgrades: pins of another version ---------------------------------------------------------

/** Maps under `pinDir` that no program declares any more (a removed feature's): unpinned. */
function removeStalePins(pinDir: string): string[] {
  const known = new Set<string>([...MAP_NAMES, ...FEATURE_MAP_NAMES]);
  const notes: string[] = [];
  for (const name of readdirSync(pinDir)) {
    if (!name.startsWith("mdp_") || known.has(name)) continue;
    rmSync(path.join(pinDir, name), { force: true });
    notes.push(`${name}: no program uses it any more; unpinned`);
  }
  return notes;
}

/**
 * Pinned maps whose type, key, value or size differ from what today's objects declare, found by
 * loading one object into a scratch pin directory and comparing. Their state starts afresh:
 * endpoints, ipcache and policy are written again from the desired state, counters restart, and
 * conntrack entries are re-created as flows are seen (policy judges them as new).
 */
function reshapedPins(pinDir: string, opts: PinnedDatapathOptions): { name: string; note: string }[] {
  // No dot in the name: bpffs refuses those.
  const probeDir = `${pinDir}-probe-${process.pid}`;
  rmSync(probeDir, { recursive: true, force: true });
  mkdirSync(probeDir, { recursive: true });
  const out: { name: string; note: string }[] = [];
  try {
    const obj = openObject(opts.objectFor?.("from_pod") ?? objectPath("from_pod"), { pinDir: probeDir });
    try {
      for (const name of [...MAP_NAMES, ...FEATURE_MAP_NAMES]) {
        const pin = path.join(pinDir, name);
        if (!existsSync(pin)) continue;
        const want = obj.map(name).info();
        const pinned = openPinnedMap(pin);
        const have = pinned.info();
        pinned.close();
        const differs = (["type", "keySize", "valueSize", "maxEntries", "flags"] as const).filter(
          (k) => have[k] !== want[k],
        );
        if (differs.length > 0) {
          out.push({
            name,
            note: `${name}: pinned with another layout (${differs.map((k) => `${k} ${have[k]} → ${want[k]}`).join(", ")}); started afresh`,
          });
        }
      }
    } finally {
      obj.close();
    }
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
  return out;
}
