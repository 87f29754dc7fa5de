// Datapath benchmark: ns per packet for each program path (BPF_PROG_TEST_RUN with
// repeat), divided by a pass-through program measured in the same run; and the cost of
// a policy verdict with 10, 1,000 and 100,000 policy entries for the endpoint.
//
//   npx tsx bench/datapath/run.ts [--repeat 10000] [--runs 15] [--throughput]
//
// --throughput adds pod-to-pod iperf3 throughput with the programs ÷ without (veth, netns).
//
// Needs root, bpffs and built objects (npm run build -w @meridian/bpf).
import { cpus, loadavg } from "node:os";
import { objectPath } from "@meridian/bpf";
import { buildPacket } from "@meridian/bpf/packet";
import { type BpfProgram, isBpffs, openObject } from "@meridian/native";
import {
  EP_FLAGS,
  openFlowEvents,
  PinnedDatapath,
  type PolicyMapEntry,
  VERDICT,
} from "@meridian/node-agent/datapath/index";
import { measureThroughput } from "./throughput";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const REPEAT = arg("repeat", 10_000);
const RUNS = arg("runs", 15);

if (process.getuid?.() !== 0) throw new Error("the datapath benchmark needs root");
if (!isBpffs("/sys/fs/bpf")) throw new Error("/sys/fs/bpf is not bpffs: mount -t bpf bpf /sys/fs/bpf");

const pinDir = `/sys/fs/bpf/meridian-bench-${process.pid}`;
const dp = PinnedDatapath.load({ pinDir });
const rb = openFlowEvents(dp.maps.maps.mdp_events);
const passObj = openObject(objectPath("passthrough"));
const passthrough = passObj.program("passthrough");
passObj.close();

/** Median ns/packet over RUNS runs of REPEAT repetitions; drains events between runs. */
function measure(prog: BpfProgram, packet: Buffer): number {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    rb.consume();
    samples.push(prog.testRun({ data: packet, repeat: REPEAT }).duration);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

const POD = "10.1.0.10";
const POD6 = "fd00:1::10";
const PEER = "10.2.0.5";
const PEER6 = "fd00:2::5";
const EP = 1;
const PEER_ID = 2000;

function seed(): void {
  for (const ip of [POD, POD6]) {
    dp.maps.setEndpoint(ip, {
      epId: EP,
      identity: 1000,
      ifindex: 1, // BPF_PROG_TEST_RUN delivers on lo: the pod interface for from_pod
      flags: EP_FLAGS.POLICY_INGRESS | EP_FLAGS.POLICY_EGRESS,
    });
  }
  dp.maps.setIpcache("10.2.0.0/16", PEER_ID);
  dp.maps.setIpcache("fd00:2::/64", PEER_ID);
  dp.maps.setIpcache("10.0.0.0/8", 3000);
}

/** N policy entries for the endpoint: the bench rules plus filler across identities and ports. */
function policyOf(n: number): PolicyMapEntry[] {
  const base = { epId: EP, verdict: VERDICT.ALLOW };
  const wanted: PolicyMapEntry[] = [
    { ...base, identity: PEER_ID, direction: 0, protocol: 6, port: 80, prefixlen: 96, ruleId: 1 },
    { ...base, identity: PEER_ID, direction: 1, protocol: 6, port: 443, prefixlen: 96, ruleId: 2 },
    { ...base, identity: PEER_ID, direction: 0, protocol: 1, port: 13, prefixlen: 96, ruleId: 3 },
    { ...base, identity: PEER_ID, direction: 0, protocol: 1, port: 8, prefixlen: 96, ruleId: 4 },
  ];
  for (let i = 0; wanted.length < n; i++) {
    const range = i % 10 === 0;
    wanted.push({
      ...base,
      identity: 10_000 + i,
      direction: i % 2,
      protocol: i % 3 === 0 ? 17 : 6,
      port: range ? (i * 64) & 0xffc0 : 1024 + (i % 60_000),
      prefixlen: range ? 90 : 96,
      ruleId: 100 + i,
    });
  }
  // De-duplicate keys the filler may have repeated.
  const seen = new Set<string>();
  return wanted.filter((e) => {
    const k = `${e.identity}/${e.direction}/${e.protocol}/${e.port}/${e.prefixlen}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const rows: { path: string; ns: number }[] = [];
try {
  seed();
  dp.maps.setPolicyEntries(EP, policyOf(4));

  const tcp4 = (src: string, dst: string, sport: number, dport: number) =>
    buildPacket({ src, dst, protocol: "tcp", sport, dport, flags: 0x10, payload: Buffer.alloc(64) });
  const tcp6 = (src: string, dst: string, sport: number, dport: number) =>
    buildPacket({ src, dst, protocol: "tcp", sport, dport, flags: 0x10, payload: Buffer.alloc(64) });

  const base = measure(passthrough, tcp4(PEER, POD, 40000, 80));
  rows.push({ path: "passthrough (baseline)", ns: base });

  // Establish flows once so the repeats below take the conntrack-hit path.
  dp.programs.to_pod.testRun({ data: tcp4(PEER, POD, 40000, 80) });
  dp.programs.to_pod.testRun({ data: tcp6(PEER6, POD6, 40000, 80) });
  dp.programs.from_pod.testRun({ data: tcp4(POD, PEER, 50000, 443) });

  const paths: [string, BpfProgram, Buffer][] = [
    ["from_net: parse IPv4 TCP, pass", dp.programs.from_net, tcp4(PEER, POD, 40000, 80)],
    ["to_net: parse IPv4 TCP, pass", dp.programs.to_net, tcp4(POD, PEER, 40000, 80)],
    ["from_pod: spoofed source, drop + event", dp.programs.from_pod, tcp4("10.77.0.1", PEER, 40000, 80)],
    ["from_pod: established (CT hit) IPv4", dp.programs.from_pod, tcp4(POD, PEER, 50000, 443)],
    ["to_pod: reply to from_pod flow (CT hit)", dp.programs.to_pod, tcp4(PEER, POD, 443, 50000)],
    ["to_pod: established (CT hit) IPv4", dp.programs.to_pod, tcp4(PEER, POD, 40000, 80)],
    ["to_pod: established (CT hit) IPv6", dp.programs.to_pod, tcp6(PEER6, POD6, 40000, 80)],
    [
      "to_pod: policy allow ICMP (untracked) + event",
      dp.programs.to_pod,
      buildPacket({ src: PEER, dst: POD, protocol: "icmp", icmpType: 13 }),
    ],
    [
      "to_pod: ICMP echo (CT hit)",
      dp.programs.to_pod,
      buildPacket({ src: PEER, dst: POD, protocol: "icmp", icmpType: 8 }),
    ],
    ["to_pod: default deny TCP + event", dp.programs.to_pod, tcp4(PEER, POD, 40001, 81)],
    [
      "to_pod: malformed (bad IHL) drop + event",
      dp.programs.to_pod,
      (() => {
        const p = tcp4(PEER, POD, 1, 2);
        p[14] = 0x44;
        return p;
      })(),
    ],
  ];
  for (const [name, prog, pkt] of paths) rows.push({ path: name, ns: measure(prog, pkt) });

  console.log(`\nDatapath ns/packet (BPF_PROG_TEST_RUN, repeat ${REPEAT}, median of ${RUNS} runs)\n`);
  console.log(`${"path".padEnd(52)} ${"ns/pkt".padStart(8)} ${"÷ pass".padStart(8)}`);
  for (const r of rows)
    console.log(
      `${r.path.padEnd(52)} ${r.ns.toFixed(0).padStart(8)} ${(r.ns / base).toFixed(2).padStart(7)}×`,
    );

  console.log("\nPolicy verdict cost by number of policy entries for the endpoint\n");
  console.log(
    `${"entries".padStart(8)} ${"apply ms".padStart(9)} ${"allow ns".padStart(9)} ${"÷ pass".padStart(7)} ${"deny ns".padStart(8)} ${"÷ pass".padStart(7)}`,
  );
  const allowPkt = buildPacket({ src: PEER, dst: POD, protocol: "icmp", icmpType: 13 });
  const denyPkt = tcp4(PEER, POD, 40001, 81);
  for (const n of [10, 1000, 100_000]) {
    const wanted = policyOf(n);
    const t0 = performance.now();
    dp.maps.setPolicyEntries(EP, wanted);
    const applyMs = performance.now() - t0;
    const allow = measure(dp.programs.to_pod, allowPkt);
    const deny = measure(dp.programs.to_pod, denyPkt);
    console.log(
      `${String(wanted.length).padStart(8)} ${applyMs.toFixed(0).padStart(9)} ${allow.toFixed(0).padStart(9)} ${(allow / base).toFixed(2).padStart(6)}× ${deny.toFixed(0).padStart(8)} ${(deny / base).toFixed(2).padStart(6)}×`,
    );
  }
  console.log(
    `\npassthrough baseline: ${base.toFixed(0)} ns/packet; CPUs: ${cpus().length}; load average: ${loadavg()[0]?.toFixed(1)}`,
  );
} finally {
  rb.close();
  passthrough.close();
  dp.close();
  PinnedDatapath.destroy(pinDir);
}

if (process.argv.includes("--throughput")) {
  const t = await measureThroughput(`${pinDir}-tput`);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
  console.log("\nPod-to-pod TCP throughput over veth (iperf3, Gbit/s per round)\n");
  console.log(`  no programs:        ${fmt(t.withoutGbps)}`);
  console.log(`  to_pod + from_pod:  ${fmt(t.withGbps)}`);
  console.log(`  median ratio:       ${t.ratio.toFixed(2)} (aim >= 0.9)`);
}
