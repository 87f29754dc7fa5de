// Typed access to the datapath's pinned maps: what the reconcilers call.
// Every setter is idempotent (writing the same state twice changes nothing) and
// setPolicy applies only the difference between the map and the wanted entries.
import path from "node:path";
import { type BpfMap, isNativeError, openPinnedMap, possibleCpus } from "@meridian/native";
import type { IpcacheChange } from "./ipcache-owners";
import {
  type Addr,
  AF,
  CT_FLAGS,
  counter,
  ctEntry,
  ctKey,
  DIRECTION,
  EP_FLAGS,
  endpointInfo,
  endpointKey,
  formatAddr,
  IDENTITY,
  ipcacheInfo,
  ipcacheKey,
  POINT_MAX,
  POINT_NAMES,
  POLICY_PREFIX,
  parseAddr,
  parseCidr,
  policyEntry,
  REASON_MAX,
  REASON_NAMES,
  VERDICT,
} from "./layout";
import {
  compilePolicy,
  decodePolicy,
  encodePolicyKey,
  encodePolicyValue,
  entryId,
  type PolicyMapEntry,
  type PolicyRule,
} from "./policy";

export const MAP_NAMES = [
  "mdp_endpoints",
  "mdp_ipcache",
  "mdp_policy",
  "mdp_ct",
  "mdp_counters",
  "mdp_events",
  "mdp_drop_rate",
] as const;
export type MapName = (typeof MAP_NAMES)[number];

/**
 * Maps a feature header declares (bpf/lib/<feature>.h) and the feature's own subsystem opens by
 * its pin; the loader keeps their pins (they are not stale) but the policy datapath never reads them.
 */
export const FEATURE_MAP_NAMES = [
  "mdp_dns_redir",
  "mdp_dns_orig",
  "mdp_srv6_vrf",
  "mdp_srv6_policy",
  "mdp_srv6_sid",
  "mdp_srv6_vrfep",
  "mdp_srv6_cfg",
  "mdp_srv6_stats",
  "mdp_egw_policy",
  "mdp_egw_gw",
  "mdp_egw_flow",
  "mdp_egw_snat",
  "mdp_egw_stats",
] as const;

export interface Endpoint {
  epId: number;
  identity: number;
  ifindex: number;
  flags: number;
}

export interface CounterRow {
  point: (typeof POINT_NAMES)[number];
  reason: string;
  reasonCode: number;
  packets: bigint;
  bytes: bigint;
}

export interface PolicyDiff {
  added: number;
  updated: number;
  removed: number;
}

function endpointKeyOf(ip: string | Addr): Buffer {
  const a = typeof ip === "string" ? parseAddr(ip) : ip;
  return endpointKey.encode({ addr: a.bytes, family: a.family });
}

export function ipcacheKeyOf(cidr: string): Buffer {
  const c = parseCidr(cidr);
  return ipcacheKey.encode({ prefixlen: 32 + c.prefix, family: c.family, addr: c.bytes });
}

/** Every key of a map (collected first, so callers may delete while walking). */
export function mapKeys(map: BpfMap): Buffer[] {
  const keys: Buffer[] = [];
  let k = map.nextKey(null);
  while (k) {
    keys.push(k);
    k = map.nextKey(k);
  }
  return keys;
}

const BATCH_UNSUPPORTED = new Set([22 /* EINVAL */, 95 /* EOPNOTSUPP */, 524 /* ENOTSUPP */]);

/** Every [key, value] of a map: batched reads where the kernel has them, else key by key. */
export function mapEntries(map: BpfMap): [Buffer, Buffer][] {
  const { keySize, valueBufferSize } = map.info();
  try {
    const d = map.dump();
    const out: [Buffer, Buffer][] = [];
    for (let i = 0; i < d.count; i++) {
      out.push([
        d.keys.subarray(i * keySize, (i + 1) * keySize),
        d.values.subarray(i * valueBufferSize, (i + 1) * valueBufferSize),
      ]);
    }
    return out;
  } catch (err) {
    if (!isNativeError(err) || !BATCH_UNSUPPORTED.has(err.errno)) throw err;
  }
  return mapKeys(map).flatMap((k) => {
    const v = map.lookup(k);
    return v ? [[k, v] as [Buffer, Buffer]] : [];
  });
}

/** One batch syscall when the kernel supports it for this map type, else one per entry. */
export function writeBatch(map: BpfMap, keys: Buffer[], values: Buffer[]): void {
  if (keys.length === 0) return;
  if (keys.length > 1) {
    try {
      map.updateBatch(Buffer.concat(keys), Buffer.concat(values), keys.length);
      return;
    } catch (err) {
      if (!isNativeError(err) || !BATCH_UNSUPPORTED.has(err.errno)) throw err;
    }
  }
  keys.forEach((k, i) => {
    map.update(k, values[i] as Buffer);
  });
}

export function deleteBatch(map: BpfMap, keys: Buffer[]): void {
  if (keys.length === 0) return;
  if (keys.length > 1) {
    try {
      map.deleteBatch(Buffer.concat(keys), keys.length);
      return;
    } catch (err) {
      if (!isNativeError(err) || !BATCH_UNSUPPORTED.has(err.errno)) throw err;
    }
  }
  for (const k of keys) map.delete(k);
}

export interface SyncDiff {
  written: number;
  removed: number;
}

/** Diff a map against wanted entries (keyed by hex of the key) and apply the difference. */
function syncMap(map: BpfMap, want: Map<string, { key: Buffer; value: Buffer }>): SyncDiff {
  const have = new Map(mapEntries(map).map(([k, v]) => [k.toString("hex"), v]));
  const writes = [...want.entries()].filter(([id, e]) => !have.get(id)?.equals(e.value)).map(([, e]) => e);
  const stale = [...have.keys()].filter((id) => !want.has(id)).map((id) => Buffer.from(id, "hex"));
  writeBatch(
    map,
    writes.map((e) => e.key),
    writes.map((e) => e.value),
  );
  deleteBatch(map, stale);
  return { written: writes.length, removed: stale.length };
}

/** Opens the maps pinned under pinDir by name; if one fails, those already open are closed again. */
export function openPinnedMaps<N extends string>(pinDir: string, names: readonly N[]): Record<N, BpfMap> {
  const maps = {} as Record<N, BpfMap>;
  try {
    for (const n of names) maps[n] = openPinnedMap(path.join(pinDir, n));
  } catch (err) {
    for (const m of Object.values<BpfMap>(maps)) m.close();
    throw err;
  }
  return maps;
}

export class DatapathMaps {
  constructor(readonly maps: Record<MapName, BpfMap>) {}

  /** Open every map pinned under pinDir (what a restarted agent does). */
  static openPinned(pinDir: string): DatapathMaps {
    return new DatapathMaps(openPinnedMaps(pinDir, MAP_NAMES));
  }

  close(): void {
    for (const m of Object.values(this.maps)) m.close();
  }

  // ---- endpoints ----

  setEndpoint(ip: string, ep: Endpoint): void {
    this.maps.mdp_endpoints.update(
      endpointKeyOf(ip),
      endpointInfo.encode({ ep_id: ep.epId, identity: ep.identity, ifindex: ep.ifindex, flags: ep.flags }),
    );
  }

  getEndpoint(ip: string): Endpoint | null {
    const v = this.maps.mdp_endpoints.lookup(endpointKeyOf(ip));
    if (!v) return null;
    const d = endpointInfo.decode(v);
    return { epId: d.ep_id, identity: d.identity, ifindex: d.ifindex, flags: d.flags };
  }

  deleteEndpoint(ip: string): boolean {
    return this.maps.mdp_endpoints.delete(endpointKeyOf(ip));
  }

  listEndpoints(): (Endpoint & { ip: string })[] {
    return mapEntries(this.maps.mdp_endpoints).map(([k, v]) => {
      const key = endpointKey.decode(k);
      const d = endpointInfo.decode(v);
      return {
        ip: formatAddr(key.family, key.addr),
        epId: d.ep_id,
        identity: d.identity,
        ifindex: d.ifindex,
        flags: d.flags,
      };
    });
  }

  /**
   * Make the endpoints map exactly `desired` (ip → endpoint): write what is new or
   * different, delete what is no longer wanted. Idempotent.
   */
  syncEndpoints(desired: Map<string, Endpoint>): SyncDiff {
    const m = this.maps.mdp_endpoints;
    const want = new Map<string, { key: Buffer; value: Buffer }>();
    for (const [ip, ep] of desired) {
      const key = endpointKeyOf(ip);
      want.set(key.toString("hex"), {
        key,
        value: endpointInfo.encode({
          ep_id: ep.epId,
          identity: ep.identity,
          ifindex: ep.ifindex,
          flags: ep.flags,
        }),
      });
    }
    return syncMap(m, want);
  }

  // ---- ipcache ----

  /** Make the ipcache exactly `desired` (CIDR → identity). Idempotent. */
  syncIpcache(desired: Map<string, number>): SyncDiff {
    const want = new Map<string, { key: Buffer; value: Buffer }>();
    for (const [cidr, identity] of desired) {
      const key = ipcacheKeyOf(cidr);
      want.set(key.toString("hex"), { key, value: ipcacheInfo.encode({ identity, flags: 0 }) });
    }
    return syncMap(this.maps.mdp_ipcache, want);
  }

  /**
   * Writes only the given changes (one update or delete each, no read of the map), new and
   * changed entries first. The caller's `before` is what the kernel holds: if a write fails, the
   * entries already written are put back to it (no snapshot of the whole map needed) and the
   * error names the entry and the outcome.
   */
  applyIpcacheChanges(changes: readonly IpcacheChange[]): SyncDiff {
    const ordered = [
      ...changes.filter((c) => c.after !== undefined),
      ...changes.filter((c) => c.after === undefined),
    ];
    const encode = (identity: number) => ipcacheInfo.encode({ identity, flags: 0 });
    // Encoded first: a prefix that does not parse fails before the first kernel write.
    const keys = ordered.map((c) => ipcacheKeyOf(c.prefix));
    const done: number[] = [];
    for (const [i, c] of ordered.entries()) {
      try {
        if (c.after === undefined) this.maps.mdp_ipcache.delete(keys[i]!);
        else this.maps.mdp_ipcache.update(keys[i]!, encode(c.after));
      } catch (err) {
        let outcome = "the maps were restored to the last good state";
        try {
          for (const j of done.reverse()) {
            const was = ordered[j]!.before;
            if (was === undefined) this.maps.mdp_ipcache.delete(keys[j]!);
            else this.maps.mdp_ipcache.update(keys[j]!, encode(was));
          }
        } catch (undoErr) {
          outcome = `restoring the last good state failed too: ${(undoErr as Error).message}`;
        }
        throw new Error(`ipcache entry ${c.prefix}: ${(err as Error).message}; ${outcome}`, { cause: err });
      }
      done.push(i);
    }
    const removed = ordered.filter((c) => c.after === undefined).length;
    return { written: ordered.length - removed, removed };
  }

  setIpcache(cidr: string, identity: number, flags = 0): void {
    this.maps.mdp_ipcache.update(ipcacheKeyOf(cidr), ipcacheInfo.encode({ identity, flags }));
  }

  deleteIpcache(cidr: string): boolean {
    return this.maps.mdp_ipcache.delete(ipcacheKeyOf(cidr));
  }

  listIpcache(): { cidr: string; identity: number }[] {
    return mapEntries(this.maps.mdp_ipcache).map(([k, v]) => {
      const key = ipcacheKey.decode(k);
      return {
        cidr: `${formatAddr(key.family, key.addr)}/${key.prefixlen - 32}`,
        identity: ipcacheInfo.decode(v).identity,
      };
    });
  }

  // ---- policy ----

  policyEntries(epId?: number): PolicyMapEntry[] {
    return mapEntries(this.maps.mdp_policy).flatMap(([k, v]) => {
      const e = decodePolicy(k, v);
      return epId === undefined || e.epId === epId ? [e] : [];
    });
  }

  /**
   * Make the endpoint's policy entries exactly those compiled from `rules`. New and
   * changed entries are written before stale ones are removed.
   */
  setPolicy(epId: number, rules: PolicyRule[]): PolicyDiff {
    return this.setPolicyEntries(epId, compilePolicy(epId, rules));
  }

  setPolicyEntries(epId: number, wanted: PolicyMapEntry[]): PolicyDiff {
    const m = this.maps.mdp_policy;
    const have = new Map(this.policyEntries(epId).map((e) => [entryId(e), e]));
    const diff: PolicyDiff = { added: 0, updated: 0, removed: 0 };
    const keep = new Set<string>();
    const writes: PolicyMapEntry[] = [];
    for (const e of wanted) {
      const id = entryId(e);
      keep.add(id);
      const cur = have.get(id);
      if (cur && cur.verdict === e.verdict && cur.ruleId === e.ruleId) continue;
      writes.push(e);
      if (cur) diff.updated++;
      else diff.added++;
    }
    const stale = [...have].filter(([id]) => !keep.has(id)).map(([, e]) => e);
    writeBatch(
      m,
      writes.map((e) => encodePolicyKey(e)),
      writes.map((e) => encodePolicyValue(e)),
    );
    deleteBatch(
      m,
      stale.map((e) => encodePolicyKey(e)),
    );
    diff.removed = stale.length;
    return diff;
  }

  clearPolicy(epId: number): number {
    return this.setPolicyEntries(epId, []).removed;
  }

  // ---- conntrack ----

  listConntrack(): {
    src: string;
    dst: string;
    sport: number;
    dport: number;
    protocol: number;
    direction: number;
    packets: bigint;
    bytes: bigint;
    ruleId: number;
    /** A policy change no longer allows the flow: its packets are dropped. */
    revoked: boolean;
  }[] {
    return mapEntries(this.maps.mdp_ct).flatMap(([k, v]) => {
      const key = ctKey.decode(k);
      const e = ctEntry.decode(v);
      return [
        {
          src: formatAddr(key.family, key.saddr),
          dst: formatAddr(key.family, key.daddr),
          sport: key.sport,
          dport: key.dport,
          protocol: key.protocol,
          direction: key.direction,
          packets: e.packets,
          bytes: e.bytes,
          ruleId: e.rule_id,
          revoked: (e.flags & CT_FLAGS.REVOKED) !== 0,
        },
      ];
    });
  }

  /**
   * Remove conntrack entries idle for longer than `maxIdleNs`. The datapath stamps
   * entries with bpf_ktime_get_ns (CLOCK_MONOTONIC), the clock process.hrtime reads.
   * Returns how many were removed. LRU eviction remains the backstop when the table fills.
   */
  gcConntrack(maxIdleNs: bigint, now: bigint = process.hrtime.bigint()): number {
    const stale = mapEntries(this.maps.mdp_ct)
      .filter(([, v]) => now - ctEntry.decode(v).last_seen_ns > maxIdleNs)
      .map(([k]) => Buffer.from(k));
    deleteBatch(this.maps.mdp_ct, stale);
    return stale.length;
  }

  /**
   * Re-judge every established flow against the policy now in the maps, the way the programs
   * judge a new one (lib/policy.h: remote identity and IDENTITY_ANY, deny beats allow, default
   * deny where the endpoint enforces the direction). A flow the policy no longer allows is marked
   * revoked (CT_F_REVOKED, + CT_F_DENIED for an explicit deny): the programs drop its packets both
   * ways. The entry is kept rather than deleted, because otherwise the first packet of the other
   * side would re-create it as a new flow of its own and be let through. A revoked flow that a
   * later policy allows again is restored, so the same connection carries on. Entries of addresses
   * that are no longer endpoints are deleted (the programs pass those packets without conntrack).
   * Call after every apply that changed endpoints, ipcache or policy.
   */
  revalidateConntrack(): { checked: number; revoked: number; restored: number } {
    const stale: Buffer[] = [];
    let checked = 0;
    let revoked = 0;
    let restored = 0;
    for (const [k, v] of mapEntries(this.maps.mdp_ct)) {
      checked++;
      const key = ctKey.decode(k);
      const egress = key.direction === DIRECTION.EGRESS;
      const epRaw = this.maps.mdp_endpoints.lookup(
        endpointKey.encode({ addr: egress ? key.saddr : key.daddr, family: key.family }),
      );
      if (!epRaw) {
        stale.push(Buffer.from(k));
        continue;
      }
      const ep = endpointInfo.decode(epRaw);
      const entry = ctEntry.decode(v);
      let flags = 0;
      let ruleId = entry.rule_id;
      if (ep.flags & (egress ? EP_FLAGS.POLICY_EGRESS : EP_FLAGS.POLICY_INGRESS)) {
        const remote = egress ? key.daddr : key.saddr;
        const ic = this.maps.mdp_ipcache.lookup(
          ipcacheKey.encode({
            prefixlen: 32 + (key.family === AF.INET ? 32 : 128),
            family: key.family,
            addr: remote,
          }),
        );
        const identity = ic ? ipcacheInfo.decode(ic).identity : IDENTITY.WORLD;
        // Echo entries hold the ICMP identifier, not a port: policy matches the echo request type.
        const icmp = key.protocol === 1 || key.protocol === 58;
        const port = icmp ? (key.protocol === 1 ? 8 : 128) : key.dport;
        const look = (id: number) => {
          const raw = this.maps.mdp_policy.lookup(
            encodePolicyKey({
              prefixlen: POLICY_PREFIX.FULL,
              epId: ep.ep_id,
              identity: id,
              direction: key.direction,
              protocol: key.protocol,
              port,
            }),
          );
          return raw ? policyEntry.decode(raw) : undefined;
        };
        const found = [look(identity), look(IDENTITY.ANY)];
        const deny = found.find((e) => e?.verdict === VERDICT.DENY);
        const allow = found.find((e) => e?.verdict === VERDICT.ALLOW);
        if (deny) [flags, ruleId] = [CT_FLAGS.REVOKED | CT_FLAGS.DENIED, deny.rule_id];
        else if (allow) ruleId = allow.rule_id;
        // Default deny: the flow's drops name the enforcement marker, as a new flow's would.
        else [flags, ruleId] = [CT_FLAGS.REVOKED, look(IDENTITY.ENFORCEMENT)?.rule_id ?? 0];
      }
      if (flags === entry.flags && ruleId === entry.rule_id) continue;
      if (flags && !entry.flags) revoked++;
      if (!flags && entry.flags) restored++;
      // The programs only add to the counters in place; a rare lost increment is acceptable.
      this.maps.mdp_ct.update(k, ctEntry.encode({ ...entry, flags, rule_id: ruleId }));
    }
    deleteBatch(this.maps.mdp_ct, stale);
    return { checked, revoked, restored };
  }

  flushConntrack(): number {
    const m = this.maps.mdp_ct;
    let n = 0;
    for (const k of mapKeys(m)) if (m.delete(k)) n++;
    return n;
  }

  // ---- counters ----

  /** Sum of one counter over all CPUs. */
  counter(point: number, reason: number): { packets: bigint; bytes: bigint } {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(reason * POINT_MAX + point);
    const v = this.maps.mdp_counters.lookup(key);
    const out = { packets: 0n, bytes: 0n };
    if (!v) return out;
    const ncpu = possibleCpus();
    for (let c = 0; c < ncpu; c++) {
      const d = counter.decode(v, c * counter.size);
      out.packets += d.packets;
      out.bytes += d.bytes;
    }
    return out;
  }

  /** Every non-zero counter. */
  readCounters(): CounterRow[] {
    const rows: CounterRow[] = [];
    for (let reason = 0; reason < REASON_MAX; reason++) {
      for (let point = 0; point < POINT_MAX; point++) {
        const c = this.counter(point, reason);
        if (c.packets === 0n && c.bytes === 0n) continue;
        rows.push({
          point: POINT_NAMES[point] ?? "from_pod",
          reason: REASON_NAMES[reason] ?? `reason_${reason}`,
          reasonCode: reason,
          packets: c.packets,
          bytes: c.bytes,
        });
      }
    }
    return rows;
  }

  /** Zero every counter (tests and `meridian-agent status --reset`). */
  resetCounters(): void {
    const m = this.maps.mdp_counters;
    const zero = Buffer.alloc(m.info().valueBufferSize);
    const key = Buffer.alloc(4);
    for (let i = 0; i < REASON_MAX * POINT_MAX; i++) {
      key.writeUInt32LE(i);
      m.update(key, zero);
    }
    // The drop-event rate limiter's windows and held-back counts start afresh too.
    const rate = this.maps.mdp_drop_rate;
    const zeroRate = Buffer.alloc(rate.info().valueBufferSize);
    for (let i = 0; i < REASON_MAX; i++) {
      key.writeUInt32LE(i);
      rate.update(key, zeroRate);
    }
  }
}

export { AF };
