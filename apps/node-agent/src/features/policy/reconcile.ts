// One reconciler per map the policy subsystem owns: each takes a plan that is already encoded
// (nothing left to fail but the kernel) and writes only the difference. The caller runs them inside
// withRollback (datapath/transaction.ts), so a kernel write failing in any of them leaves all of
// them as they were.
import type {
  DatapathMaps,
  IpcacheClaims,
  PolicyDiff,
  PolicyMapEntry,
  SyncDiff,
} from "../../datapath/index.js";
import { named } from "./translate.js";

/** Endpoint map entries: what it holds (by hex key) and what it should hold. */
export interface EndpointPlan {
  current: Map<string, Buffer>;
  want: Map<string, { ip: string; key: Buffer; value: Buffer; label: string }>;
}

/** Per endpoint (ep_id): its compiled entries, or left as it is (`keep`: not named by the control plane yet). */
export interface PolicyPlan {
  want: Map<number, { label: string; entries: PolicyMapEntry[] }>;
  keep: Set<number>;
}

/** The ipcache becomes the union of every owner's claims. */
export function reconcileIpcache(maps: DatapathMaps, claims: IpcacheClaims): SyncDiff {
  const union = new Map([...claims.union()].map(([prefix, c]) => [prefix, c.identity]));
  return named(`ipcache (${union.size} entries)`, () => maps.syncIpcache(union));
}

/** Each planned endpoint's policy becomes its entries; stale endpoints' entries go. */
export function reconcilePolicy(maps: DatapathMaps, plan: PolicyPlan): PolicyDiff {
  const diff: PolicyDiff = { added: 0, updated: 0, removed: 0 };
  const present = new Set(maps.policyEntries().map((e) => e.epId));
  for (const epId of new Set([...present, ...plan.want.keys()])) {
    if (plan.keep.has(epId)) continue;
    const want = plan.want.get(epId);
    const d = named(`${want?.label ?? `stale endpoint #${epId}`}: policy`, () =>
      maps.setPolicyEntries(epId, want?.entries ?? []),
    );
    diff.added += d.added;
    diff.updated += d.updated;
    diff.removed += d.removed;
  }
  return diff;
}

/** New and changed endpoint entries first, then the ones no longer wanted. */
export function reconcileEndpoints(maps: DatapathMaps, plan: EndpointPlan): SyncDiff {
  const diff: SyncDiff = { written: 0, removed: 0 };
  for (const [hex, w] of plan.want) {
    if (plan.current.get(hex)?.equals(w.value)) continue;
    named(`${w.label} (${w.ip})`, () => maps.maps.mdp_endpoints.update(w.key, w.value));
    diff.written++;
  }
  for (const hex of plan.current.keys()) {
    if (plan.want.has(hex)) continue;
    named(`stale endpoint entry ${hex}`, () => maps.maps.mdp_endpoints.delete(Buffer.from(hex, "hex")));
    diff.removed++;
  }
  return diff;
}
