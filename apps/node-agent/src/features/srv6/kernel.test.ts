// The SRv6 maps' TypeScript layouts against the BTF of the built objects (bpf/lib/srv6.h), and the
// encoder's refusals before anything reaches a map.
import { execFileSync } from "node:child_process";
import { objectPath } from "@meridian/bpf";
import { describe, expect, it } from "vitest";
import { encodeState, srv6Layouts } from "./kernel";

function btf(file: string): Map<string, { size: number; members: [string, number][] }> {
  const raw = execFileSync("bpftool", ["btf", "dump", "file", file, "format", "raw"], {
    maxBuffer: 64 << 20,
  }).toString();
  const out = new Map<string, { size: number; members: [string, number][] }>();
  let cur: { size: number; members: [string, number][] } | null = null;
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

describe("SRv6 layouts match the BTF of from_pod.o / from_net.o", () => {
  const structs = new Map([...btf(objectPath("from_pod")), ...btf(objectPath("from_net"))]);
  for (const l of srv6Layouts) {
    it(`struct ${l.cName}`, () => {
      const b = structs.get(l.cName);
      expect(b, `${l.cName} not in BTF`).toBeDefined();
      expect(l.size).toBe(b?.size);
      expect(l.fields.map((f) => [f.name, f.offset * 8])).toEqual(b?.members);
    });
  }
});

describe("encodeState refuses bad input before any write", () => {
  const base = { source: "fd00::1", mtu: 1500, members: [], policies: [], sids: [] };
  it("segment lists: empty or longer than 4", () => {
    const p = { vrfId: 1, destination: "10.0.0.0/8", mode: "HEncaps" as const, source: "static" as const };
    expect(() => encodeState({ ...base, policies: [{ ...p, segments: [] }] })).toThrow(/0 segments/);
    expect(() => encodeState({ ...base, policies: [{ ...p, segments: Array(5).fill("fc00::1") }] })).toThrow(
      /5 segments/,
    );
  });
  it("a SID or segment that is not IPv6; two different entries for one key", () => {
    expect(() =>
      encodeState({ ...base, sids: [{ sid: "10.0.0.1", vrfId: 1, behavior: "End.DT4" }] }),
    ).toThrow(/not an IPv6/);
    expect(() =>
      encodeState({
        ...base,
        sids: [
          { sid: "fc00::1", vrfId: 1, behavior: "End.DT4" },
          { sid: "fc00::1", vrfId: 2, behavior: "End.DT4" },
        ],
      }),
    ).toThrow(/two different entries/);
  });
});
