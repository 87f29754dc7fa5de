// Shared set-up for datapath tests: a fresh pin directory per suite, the typed datapath
// layer the agent uses, and helpers to run one packet through a program (PKTGEN →
// SETUP → CHECK, as in Cilium's bpf/tests).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { assertBuilt } from "@meridian/bpf";
import { isBpffs, type TestRunResult } from "@meridian/native";
import {
  type AttachPoint,
  drainFlowEvents,
  type FlowEvent,
  openFlowEvents,
  PinnedDatapath,
} from "@meridian/node-agent/datapath/index";

export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;

/** Fail loudly (never skip) when the machine cannot run BPF. */
export function requireBpf(): void {
  if (process.getuid?.() !== 0)
    throw new Error("datapath tests need root (CAP_BPF, CAP_NET_ADMIN); run as root");
  if (!existsSync("/sys/kernel/btf/vmlinux")) throw new Error("kernel has no BTF (/sys/kernel/btf/vmlinux)");
  if (!isBpffs("/sys/fs/bpf")) {
    try {
      execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
    } catch (err) {
      throw new Error(`/sys/fs/bpf is not bpffs and mounting it failed: ${String(err)}`);
    }
  }
  assertBuilt();
}

let seq = 0;
export function freshPinDir(tag: string): string {
  return `/sys/fs/bpf/meridian-test-${process.pid}-${tag}-${seq++}`;
}

export interface Harness {
  dp: PinnedDatapath;
  pinDir: string;
  run(point: AttachPoint, packet: Buffer): TestRunResult;
  events(): FlowEvent[];
  /** Remove every entry the test wrote and zero the counters. */
  reset(): void;
  close(): void;
}

export function openHarness(tag: string): Harness {
  requireBpf();
  const pinDir = freshPinDir(tag);
  const dp = PinnedDatapath.load({ pinDir });
  let rb: ReturnType<typeof openFlowEvents>;
  try {
    rb = openFlowEvents(dp.maps.maps.mdp_events);
  } catch (err) {
    dp.close();
    PinnedDatapath.destroy(pinDir);
    throw err;
  }
  return {
    dp,
    pinDir,
    run: (point, packet) => dp.programs[point].testRun({ data: packet }),
    events: () => drainFlowEvents(rb),
    reset() {
      const m = dp.maps;
      for (const e of m.listEndpoints()) {
        m.clearPolicy(e.epId);
        m.deleteEndpoint(e.ip);
      }
      for (const c of m.listIpcache()) m.deleteIpcache(c.cidr);
      for (const e of m.policyEntries()) m.clearPolicy(e.epId);
      m.flushConntrack();
      m.resetCounters();
      drainFlowEvents(rb);
    },
    close() {
      rb.close();
      dp.close();
      PinnedDatapath.destroy(pinDir);
    },
  };
}
