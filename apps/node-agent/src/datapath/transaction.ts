// All-or-nothing writes to the pinned maps: the one rollback every reconciler shares. The maps a
// write touches are read first; when the write throws midway (a map full, the kernel refusing an
// entry), they are put back entry for entry and the error says so, so the last good state stays
// in force and the caller's view of it (what it last applied) stays true.
import type { BpfMap } from "@meridian/native";
import type { Logger } from "pino";
import { deleteBatch, mapEntries, writeBatch } from "./maps";

/** The policy datapath's maps (DatapathMaps), or a feature's own, by name. */
interface NamedMaps<N extends string> {
  maps: Record<N, BpfMap>;
}
type Snapshot<N extends string> = Map<N, Map<string, Buffer>>;

/**
 * Runs `write` against `maps`; if it throws, every map in `names` is restored to what it held
 * before and the error is rethrown with the outcome appended ("…; the maps were restored to the
 * last good state"). Entries are compared by value, so a write that changed nothing restores
 * nothing.
 */
export function withRollback<T, N extends string>(
  maps: NamedMaps<N>,
  names: readonly N[],
  write: () => T,
  log?: Logger,
): T {
  const before = snapshot(maps, names);
  try {
    return write();
  } catch (err) {
    let outcome = "the maps were restored to the last good state";
    try {
      restore(maps, before);
    } catch (undoErr) {
      outcome = `restoring the last good state failed too: ${(undoErr as Error).message}`;
      log?.error({ err: undoErr }, "datapath rollback failed");
    }
    throw new Error(`${(err as Error).message}; ${outcome}`, { cause: err });
  }
}

function snapshot<N extends string>(maps: NamedMaps<N>, names: readonly N[]): Snapshot<N> {
  const out: Snapshot<N> = new Map();
  for (const n of names)
    out.set(n, new Map(mapEntries(maps.maps[n]).map(([k, v]) => [k.toString("hex"), Buffer.from(v)])));
  return out;
}

/** Put the maps back to `before`: delete what was added first (frees room), then rewrite the rest. */
function restore<N extends string>(maps: NamedMaps<N>, before: Snapshot<N>): void {
  for (const [n, was] of before) {
    const map = maps.maps[n];
    const now = new Map(mapEntries(map).map(([k, v]) => [k.toString("hex"), v]));
    deleteBatch(
      map,
      [...now.keys()].filter((id) => !was.has(id)).map((id) => Buffer.from(id, "hex")),
    );
    const back = [...was].filter(([id, v]) => !now.get(id)?.equals(v));
    writeBatch(
      map,
      back.map(([id]) => Buffer.from(id, "hex")),
      back.map(([, v]) => v),
    );
  }
}
