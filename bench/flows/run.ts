// Flow-event cost in the datapath: ns per packet of to_pod's default-deny drop (BPF_PROG_TEST_RUN
// with repeat) with drop events off, rate-limited (the product: 256/s per reason) and one event per
// drop, each object built from the same source with a different DROP_EVENTS_PER_SEC (bpf/lib/exit.h).
// Ratios are against "off" measured in the same run; the allowed path (a forwarded event per new
// flow, conntrack-established after) is printed for reference.
//
//   npx tsx bench/flows/run.ts [--repeat 10000] [--runs 15]
//
// Needs root, bpffs, clang and the built objects (npm run build -w @meridian/bpf).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { objectPath } from "@meridian/bpf";
import { buildPacket } from "@meridian/bpf/packet";
import { isBpffs } from "@meridian/native";
import {
  EP_FLAGS,
  enforcementEntries,
  openFlowEvents,
  PinnedDatapath,
  POINT,
  REASON,
} from "@meridian/node-agent/datapath/index";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const REPEAT = arg("repeat", 10_000);
const RUNS = arg("runs", 15);

if (process.getuid?.() !== 0) throw new Error("the flows benchmark needs root");
if (!isBpffs("/sys/fs/bpf")) throw new Error("/sys/fs/bpf is not bpffs: mount -t bpf bpf /sys/fs/bpf");

const bpfDir = path.dirname(path.dirname(objectPath("to_pod")));
const scratch = mkdtempSync(path.join(tmpdir(), "bench-flows-"));

/** to_pod built with another drop-event budget. */
function variant(name: string, perSec: number): string {
  const out = path.join(scratch, `to_pod-${name}.o`);
  execFileSync(
    "clang",
    [
      "-O2",
      "-g",
      "-target",
      "bpf",
      "-Wall",
      "-Werror",
      `-DDROP_EVENTS_PER_SEC=${perSec}`,
      "-c",
      "to_pod.c",
      "-o",
      out,
    ],
    {
      cwd: bpfDir,
    },
  );
  return out;
}

const POD = "10.1.0.10";
const EP = 1;
const drop = buildPacket({ src: "10.2.0.5", dst: POD, protocol: "tcp", dport: 81 });
const allow = buildPacket({ src: "10.2.0.5", dst: POD, protocol: "tcp", dport: 80 });

function measure(label: string, object: string | undefined) {
  const pinDir = `/sys/fs/bpf/meridian-bench-flows-${process.pid}-${label}`;
  const dp = PinnedDatapath.load({
    pinDir,
    ...(object ? { objectFor: (p) => (p === "to_pod" ? object : objectPath(p)) } : {}),
  });
  const rb = openFlowEvents(dp.maps.maps.mdp_events);
  try {
    dp.maps.setEndpoint(POD, { epId: EP, identity: 1000, ifindex: 1, flags: EP_FLAGS.POLICY_INGRESS });
    dp.maps.setIpcache("10.2.0.0/16", 2000);
    dp.maps.setPolicy(EP, [
      { direction: "ingress", identity: 2000, protocol: "tcp", port: 80, verdict: "allow", ruleId: 7 },
    ]);
    dp.maps.setPolicyEntries(EP, [
      ...dp.maps.policyEntries(EP),
      ...enforcementEntries(EP, [{ direction: "ingress", ruleId: 99 }]),
    ]);
    const samples: number[] = [];
    let events = 0;
    for (let i = 0; i < RUNS; i++) {
      events += rb.consume().length;
      samples.push(dp.programs.to_pod.testRun({ data: drop, repeat: REPEAT }).duration);
    }
    events += rb.consume().length;
    samples.sort((a, b) => a - b);
    const lost = dp.maps.counter(POINT.TO_POD, REASON.EVENTS_LOST).packets;
    const held = dp.maps.counter(POINT.TO_POD, REASON.EVENTS_SUPPRESSED).packets;
    const allowNs = (() => {
      const s: number[] = [];
      for (let i = 0; i < RUNS; i++)
        s.push(dp.programs.to_pod.testRun({ data: allow, repeat: REPEAT }).duration);
      s.sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)]!;
    })();
    return { ns: samples[Math.floor(samples.length / 2)]!, events, lost, held, allowNs };
  } finally {
    rb.close();
    dp.close();
    PinnedDatapath.destroy(pinDir);
  }
}

try {
  const off = measure("off", variant("off", 0));
  const limited = measure("limited", undefined);
  const every = measure("every", variant("every", 1 << 30));
  const packets = RUNS * REPEAT;
  console.log(
    `flows bench: ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}, ${RUNS} runs x ${REPEAT} packets, median`,
  );
  for (const [name, r] of [
    ["drop events off", off],
    ["rate-limited (256/s, product)", limited],
    ["one event per drop", every],
  ] as const) {
    console.log(
      `  ${name.padEnd(30)} ${r.ns.toFixed(1).padStart(6)} ns/packet  ${(r.ns / off.ns).toFixed(2)}x off  events ${r.events}/${packets}, held back ${r.held}, lost ${r.lost}; allowed path ${r.allowNs.toFixed(1)} ns`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
