// SRv6 benchmark: (1) ns per packet of our encapsulation (from_pod, established flow, H.Encaps.Red
// with 1 SID and H.Encaps with 3) and decapsulation (from_net, End.DT4 without and with an SRH),
// BPF_PROG_TEST_RUN, each ÷ the pass-through program measured the same way in the same run. A
// repeat loop would run the program again on the packet it already rewrote, so every sample is
// one run (repeat 1) of a fresh packet and the median of many is taken. (2) TCP throughput from a
// pod to a host behind a kernel SRv6 PE (iperf3), through our eBPF encap/decap ÷ through the
// kernel's own seg6 (`encap seg6 mode encap` + seg6local End.DX4) on the same namespaces.
//
//   sudo npx tsx bench/srv6/run.ts [--samples 3000] [--seconds 5]
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { objectPath } from "@meridian/bpf";
import { buildPacket, ipBytes } from "@meridian/bpf/packet";
import { type BpfProgram, openObject, runInNetns } from "@meridian/native";
import { PinnedDatapath } from "@meridian/node-agent/datapath/index";
import { Srv6Kernel } from "@meridian/node-agent/features/srv6/kernel";
import { buildSrv6Topology, OUR_SID, PE_SID, sh } from "../../e2e/lab/srv6-topology";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const SAMPLES = arg("samples", 3000);
const SECONDS = arg("seconds", 5);
if (process.getuid?.() !== 0) throw new Error("the SRv6 benchmark needs root");

const T = `s6b${process.pid % 100000}`;
const NS = { pod: `${T}-pod`, node: `${T}-node`, pe: `${T}-pe`, cust: `${T}-cust`, run: `${T}-run` };
const PIN = `/sys/fs/bpf/meridian-bench-${process.pid}-srv6`;

const dp = PinnedDatapath.load({ pinDir: PIN });
const k = Srv6Kernel.open(PIN);
const passObj = openObject(objectPath("passthrough"));
const passthrough = passObj.program("passthrough");
passObj.close();

function median(prog: BpfProgram, packet: Buffer): number {
  const s: number[] = [];
  for (let i = 0; i < SAMPLES; i++)
    s.push(runInNetns(`/run/netns/${NS.run}`, () => prog.testRun({ data: packet, repeat: 1 })).duration);
  s.sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function srv6Packet(dst: string, srh: string[] | null): Buffer {
  const inner = buildPacket({ src: "192.168.50.7", dst: "10.1.0.10", protocol: "tcp", flags: 0x10 }).subarray(
    14,
  );
  const h = srh ? Buffer.alloc(8 + 16 * srh.length) : Buffer.alloc(0);
  if (srh) {
    h[0] = 4;
    h[1] = 2 * srh.length;
    h[2] = 4;
    h[4] = srh.length - 1;
    srh.forEach((x, i) => {
      ipBytes(x).copy(h, 8 + 16 * i);
    });
  }
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(h.length + inner.length, 4);
  ip6[6] = srh ? 43 : 4;
  ip6[7] = 64;
  ipBytes("fd00:99::2").copy(ip6, 8);
  ipBytes(dst).copy(ip6, 24);
  return Buffer.concat([Buffer.from("0a000000000102000000000286dd", "hex"), ip6, h, inner]);
}

function perPacket(): Record<string, string> {
  execFileSync("ip", ["netns", "add", NS.run]);
  dp.maps.setEndpoint("10.1.0.10", { epId: 7, identity: 1000, ifindex: 1, flags: 0 });
  const state = (mode: "HEncapsRed" | "HEncaps", segments: string[]) => ({
    source: "fd00:5::1",
    mtu: 1500,
    members: [
      {
        vrfId: 10,
        ifindex: 1,
        address: "10.1.0.10",
        destinations: ["0.0.0.0/0"],
        mac: "0a:00:00:00:00:10",
        hostMac: "0a:00:00:00:00:01",
      },
    ],
    policies: [{ vrfId: 10, destination: "192.168.50.0/24", segments, mode, source: "static" as const }],
    sids: [{ sid: OUR_SID, vrfId: 10, behavior: "End.DT4" as const }],
  });
  const syn = buildPacket({
    src: "10.1.0.10",
    dst: "192.168.50.7",
    protocol: "tcp",
    sport: 41000,
    dport: 5201,
  });
  const ack = buildPacket({
    src: "10.1.0.10",
    dst: "192.168.50.7",
    protocol: "tcp",
    sport: 41000,
    dport: 5201,
    flags: 0x10,
  });
  const pass = median(passthrough, ack);
  k.apply(state("HEncapsRed", [PE_SID]));
  runInNetns(`/run/netns/${NS.run}`, () => dp.programs.from_pod.testRun({ data: syn }));
  const outLen = () =>
    runInNetns(`/run/netns/${NS.run}`, () => dp.programs.from_pod.testRun({ data: ack })).data.length;
  const enc1 = median(dp.programs.from_pod, ack);
  const len1 = outLen();
  k.apply(state("HEncaps", [PE_SID, "fc00:0:3::", "fc00:0:4::"]));
  const enc3 = median(dp.programs.from_pod, ack);
  const len3 = outLen();
  const noVrf = (() => {
    k.apply({ ...state("HEncaps", [PE_SID]), members: [] });
    return median(dp.programs.from_pod, ack);
  })();
  k.apply(state("HEncapsRed", [PE_SID]));
  const dec0 = median(dp.programs.from_net, srv6Packet(OUR_SID, null));
  const decSrh = median(dp.programs.from_net, srv6Packet(OUR_SID, [OUR_SID]));
  const plain = median(
    dp.programs.from_net,
    buildPacket({ src: "10.2.0.5", dst: "10.1.0.10", protocol: "tcp", flags: 0x10 }),
  );
  execFileSync("ip", ["netns", "del", NS.run]);
  const r = (x: number) => `${x} ns (${(x / pass).toFixed(2)}×)`;
  return {
    passthrough: `${pass} ns`,
    "from_pod established, no VRF": r(noVrf),
    "encap H.Encaps.Red 1 SID": `${r(enc1)}, ${ack.length} → ${len1} bytes`,
    "encap H.Encaps 3 SIDs": `${r(enc3)}, ${ack.length} → ${len3} bytes`,
    "from_net not SRv6": r(plain),
    "decap End.DT4 no SRH": r(dec0),
    "decap End.DT4 SRH": r(decSrh),
  };
}

/** The lab's namespaces (e2e/lab/srv6-topology.ts); the pod's route MTU leaves room for the SRH. */
const topology = () => buildSrv6Topology(NS, 1436);

function iperf(): number {
  const out = sh(NS.pod, `iperf3 -c 192.168.50.7 -t ${SECONDS} -J`);
  return JSON.parse(out).end.sum_received.bits_per_second as number;
}

function throughput(): Record<string, string> {
  const { hpod, up0 } = topology();
  const mac = (ns: string, dev: string) => sh(ns, `cat /sys/class/net/${dev}/address`).trim();
  sh(NS.cust, "iperf3 -s -D");
  execFileSync("sleep", ["0.5"]);
  const results: Record<string, number[]> = { ebpf: [], kernel: [] };
  const nsPath = `/run/netns/${NS.node}`;
  for (let round = 0; round < 3; round++) {
    // Ours: from_pod / from_net on tcx, the SRv6 maps.
    dp.maps.setEndpoint("10.1.0.10", { epId: 7, identity: 1000, ifindex: hpod, flags: 0 });
    dp.attach("from_pod", { ifindex: hpod, netnsPath: nsPath, name: `${T}-hpod` });
    dp.attach("from_net", { ifindex: up0, netnsPath: nsPath, name: `${T}-up0` });
    k.apply({
      source: "fd00:5::1",
      mtu: 1500,
      members: [
        {
          vrfId: 10,
          ifindex: hpod,
          address: "10.1.0.10",
          destinations: ["0.0.0.0/0"],
          mac: mac(NS.pod, "pod0"),
          hostMac: mac(NS.node, "hpod"),
        },
      ],
      policies: [
        {
          vrfId: 10,
          destination: "192.168.50.0/24",
          segments: [PE_SID],
          mode: "HEncapsRed",
          source: "static",
        },
      ],
      sids: [{ sid: OUR_SID, vrfId: 10, behavior: "End.DT4" }],
    });
    results.ebpf!.push(iperf());
    dp.detach("from_pod", { ifindex: hpod, name: `${T}-hpod` });
    dp.detach("from_net", { ifindex: up0, name: `${T}-up0` });
    // The kernel's: seg6 encap route and a seg6local End.DX4 for our SID.
    sh(
      NS.node,
      `ip route add 192.168.50.0/24 encap seg6 mode encap segs ${PE_SID} dev up0 && ip -6 route add ${OUR_SID}/128 encap seg6local action End.DX4 nh4 10.1.0.10 dev hpod`,
    );
    results.kernel!.push(iperf());
    sh(NS.node, `ip route del 192.168.50.0/24 && ip -6 route del ${OUR_SID}/128`);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] ?? 0;
  const e = med(results.ebpf!);
  const kk = med(results.kernel!);
  return {
    "eBPF encap/decap": `${(e / 1e9).toFixed(2)} Gbit/s (runs ${results.ebpf!.map((x) => (x / 1e9).toFixed(2)).join(", ")})`,
    "kernel seg6": `${(kk / 1e9).toFixed(2)} Gbit/s (runs ${results.kernel!.map((x) => (x / 1e9).toFixed(2)).join(", ")})`,
    "eBPF ÷ kernel": (e / kk).toFixed(2),
  };
}

try {
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  console.table(perPacket());
  console.table(throughput());
} finally {
  // Kill only what runs inside our namespaces (the iperf3 server), by PID, then remove them.
  for (const n of Object.values(NS)) {
    try {
      for (const pid of execFileSync("ip", ["netns", "pids", n], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      })
        .split("\n")
        .filter(Boolean))
        process.kill(Number(pid), "SIGTERM");
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      // not created
    }
  }
  k.close();
  dp.close();
  PinnedDatapath.destroy(PIN);
}
