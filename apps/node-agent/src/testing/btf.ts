// Test support: the structs clang put into a built object's BTF (bpftool's raw dump), to compare a
// TypeScript layout (datapath/layout.ts defineStruct) with its C struct, size and field offsets.
import { execFileSync } from "node:child_process";
import { expect } from "vitest";
import type { Fields, StructLayout } from "../datapath/layout.js";

export interface BtfStruct {
  size: number;
  /** [member name, bit offset] in declaration order. */
  members: [string, number][];
}

export function btfStructs(file: string): Map<string, BtfStruct> {
  const raw = execFileSync("bpftool", ["btf", "dump", "file", file, "format", "raw"], {
    maxBuffer: 64 << 20,
  }).toString();
  const out = new Map<string, BtfStruct>();
  let cur: BtfStruct | null = null;
  for (const line of raw.split("\n")) {
    const head = line.match(/^\[\d+\] STRUCT '([^']+)' size=(\d+)/);
    if (head?.[1] && head[2]) {
      cur = { size: Number(head[2]), members: [] };
      out.set(head[1], cur);
      continue;
    }
    if (/^\[\d+\]/.test(line)) cur = null;
    const mem = line.match(/^\s+'([^']*)' type_id=\d+ bits_offset=(\d+)/);
    if (cur && mem?.[1] !== undefined && mem[2]) cur.members.push([mem[1], Number(mem[2])]);
  }
  return out;
}

/** Asserts that `layout` has the size and field offsets of the struct of its name in `structs`. */
export function expectLayoutMatchesBtf(layout: StructLayout<Fields>, structs: Map<string, BtfStruct>): void {
  const b = structs.get(layout.cName);
  expect(b, `${layout.cName} not in BTF`).toBeDefined();
  expect(layout.size).toBe(b?.size);
  expect(layout.fields.map((f) => [f.name, f.offset * 8])).toEqual(b?.members);
}
