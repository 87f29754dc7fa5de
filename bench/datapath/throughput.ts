// Pod-to-pod TCP throughput (iperf3) across a veth pair between two network namespaces,
// with to_pod/from_pod tcx-attached ÷ the same path with no programs. Rounds alternate
// (none, programs, none, …) so load from other processes hits both sides alike.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { EP_FLAGS, PinnedDatapath } from "@meridian/node-agent/datapath/index";

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: "pipe" }).toString();

export interface ThroughputResult {
  withoutGbps: number[];
  withGbps: number[];
  ratio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export async function measureThroughput(pinDir: string, rounds = 3, seconds = 3): Promise<ThroughputResult> {
  const A = `mdpb-${process.pid}-a`;
  const B = `mdpb-${process.pid}-b`;
  let server: ChildProcess | undefined;
  const dp = PinnedDatapath.load({ pinDir });
  try {
    sh("ip", "netns", "add", A);
    sh("ip", "netns", "add", B);
    sh("ip", "-n", A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", B);
    for (const [ns, dev, ip] of [
      [A, "va", "10.201.0.1"],
      [B, "vb", "10.201.0.2"],
    ] as const) {
      sh("ip", "-n", ns, "link", "set", "lo", "up");
      sh("ip", "-n", ns, "addr", "add", `${ip}/24`, "dev", dev);
      sh("ip", "-n", ns, "link", "set", dev, "up");
    }
    const ifindex = Number(sh("ip", "netns", "exec", A, "cat", "/sys/class/net/va/ifindex").trim());
    const target = { ifindex, netnsPath: `/run/netns/${A}`, name: "bench-va" };
    dp.maps.setEndpoint("10.201.0.2", { epId: 1, identity: 100, ifindex, flags: EP_FLAGS.POLICY_INGRESS });
    dp.maps.setIpcache("10.201.0.1/32", 200);
    dp.maps.setPolicy(1, [
      { direction: "ingress", identity: 200, protocol: "tcp", port: 5201, verdict: "allow", ruleId: 1 },
    ]);

    server = spawn("ip", ["netns", "exec", B, "iperf3", "-s", "-B", "10.201.0.2"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500));
    const run = (): number => {
      const out = sh("ip", "netns", "exec", A, "iperf3", "-c", "10.201.0.2", "-t", String(seconds), "-J");
      const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
      return j.end.sum_received.bits_per_second / 1e9;
    };
    const withoutGbps: number[] = [];
    const withGbps: number[] = [];
    for (let i = 0; i < rounds; i++) {
      withoutGbps.push(run());
      dp.attach("to_pod", target).close();
      dp.attach("from_pod", target).close();
      withGbps.push(run());
      dp.detach("to_pod", target);
      dp.detach("from_pod", target);
    }
    return { withoutGbps, withGbps, ratio: median(withGbps) / median(withoutGbps) };
  } finally {
    server?.kill("SIGKILL");
    dp.close();
    PinnedDatapath.destroy(pinDir);
    for (const ns of [A, B]) {
      try {
        sh("ip", "netns", "del", ns);
      } catch {
        // not created
      }
    }
  }
}
