// Per-CPU counter slots ({ packets: u64, bytes: u64 } per CPU, in a BPF_MAP_TYPE_PERCPU_ARRAY):
// how the features' statistics maps (egress, SRv6) are read as one sum and zeroed.
import { type BpfMap, possibleCpus } from "@meridian/native";

const SLOT_BYTES = 16;

function indexKey(index: number): Buffer {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(index);
  return k;
}

/** One slot summed over every possible CPU; zero when the slot is absent. */
export function sumPerCpuSlot(map: BpfMap, index: number): { packets: bigint; bytes: bigint } {
  const v = map.lookup(indexKey(index));
  const out = { packets: 0n, bytes: 0n };
  if (!v) return out;
  const cpus = possibleCpus();
  // The kernel rounds each CPU's value up to 8 bytes: the stride is the value's length per CPU.
  const stride = v.length / cpus;
  for (let c = 0; c < cpus; c++) {
    out.packets += v.readBigUInt64LE(c * stride);
    out.bytes += v.readBigUInt64LE(c * stride + 8);
  }
  return out;
}

/** Zeroes one slot on every CPU. */
export function zeroPerCpuSlot(map: BpfMap, index: number): void {
  map.update(indexKey(index), Buffer.alloc(SLOT_BYTES * possibleCpus()));
}
