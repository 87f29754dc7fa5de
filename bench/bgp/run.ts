// BGP learning benchmark: one BIRD static protocol generates N IPv4 /24s and feeds our speaker, then
// GoBGP, in the same run and over the same veth. Prints seconds to learn every route, resident memory
// per route for both, and the ratios; then the time for our speaker to advertise 10,000 /32 VIPs.
//
//   npx tsx bench/bgp/run.ts            # 100,000 routes
//   npx tsx bench/bgp/run.ts 100000 1000000
import fs from "node:fs";
import path from "node:path";
import { type Driver, Lab, sh, until } from "@meridian/bgp/testing";

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
if (sizes.length === 0) sizes.push(100_000);
// The machine is shared; the load average says how much to trust the absolute numbers.
console.log(
  `load average at start: ${fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
);
const BIRD_AS = 65030;
const OUR_AS = 65001;
const GO_AS = 65020;
const VIPS = 10_000;
const POLL_MS = 100;
// GoBGP needs many minutes (and ~1.5 kB per route) for a million routes on a 2-core machine: above
// this size it is given BENCH_GOBGP_CAP_S seconds and we print how far it got — a lower bound for
// the ratio. BENCH_GOBGP_CAP_S=0 skips GoBGP above the size.
const GOBGP_MAX = Number(process.env.BENCH_GOBGP_MAX ?? 200_000);
const GOBGP_CAP_S = Number(process.env.BENCH_GOBGP_CAP_S ?? 300);
const labs = new Set<Lab>();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    // Namespaces and daemons must not outlive an interrupted run.
    void Promise.all([...labs].map((l) => l.cleanup())).finally(() => process.exit(130));
  });
}

function birdc(lab: Lab, cmd: string): string {
  return sh("birdc", ["-s", path.join(lab.dir, "bird.ctl"), ...cmd.split(" ")], {
    ns: lab.theirs,
    allowFail: true,
  });
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

function birdConfig(lab: Lab, n: number): string {
  const routes: string[] = [];
  for (let i = 0; i < n; i++)
    routes.push(`  route ${16 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}.0/24 blackhole;`);
  const peer = (name: string, host: number, as: number) => `protocol bgp ${name} {
  local ${lab.v4(2)} as ${BIRD_AS};
  neighbor ${lab.v4(host)} as ${as};
  disabled;
  connect delay time 0;
  connect retry time 1;
  start delay time 0;
  ipv4 { import none; export where source = RTS_STATIC; };
}`;
  return `router id ${lab.v4(2)};
protocol device {}
protocol static gen {
  ipv4;
${routes.join("\n")}
}
${peer("meridian", 1, OUR_AS)}
${peer("gobgp", 3, GO_AS)}
`;
}

interface Result {
  seconds: number;
  bytesPerRoute: number;
  /** Routes held when the run stopped: n, or fewer when GoBGP hit the time cap. */
  learned?: number;
}

async function ours(lab: Lab, n: number): Promise<Result> {
  const d = await lab.speaker(
    { asn: OUR_AS, routerId: lab.v4(1), listen: { port: 179, host: lab.v4(1) } },
    [],
    ["--expose-gc", "--max-old-space-size=4096"],
  );
  const base = await d.call<{ rss: number }>("memory");
  await d.call("set-peers", {
    peers: [
      {
        address: lab.v4(2),
        asn: BIRD_AS,
        localAddress: lab.v4(1),
        passive: true,
        importPolicy: "accept-all",
        holdTime: 90,
      },
    ],
  });
  // Both speakers are timed the same way: from BIRD enabling the session to the last route held.
  const t0 = performance.now();
  birdc(lab, "enable meridian");
  if (process.env.BENCH_DEBUG) {
    await until(async () => (await d.peer(lab.v4(2))).state === "Established", "session", 60_000, 10);
    console.error(`${((performance.now() - t0) / 1000).toFixed(2)} s our session Established`);
  }
  await until(
    async () => (await d.call<{ locRib: number }>("counts", { family: "ipv4-unicast" })).locRib >= n,
    `our speaker learning ${n} routes`,
    600_000,
    POLL_MS,
  );
  const seconds = (performance.now() - t0) / 1000;
  const mem = await d.call<{ rss: number; heapUsed: number }>("memory");
  await d.call("stop").catch(() => {});
  await until(() => d.child.exitCode !== null, "our speaker to exit", 10_000, 50).catch(() =>
    d.child.kill("SIGKILL"),
  );
  return { seconds, bytesPerRoute: (mem.rss - base.rss) / n };
}

async function gobgpd(lab: Lab, n: number, capSeconds?: number): Promise<Result> {
  fs.writeFileSync(
    path.join(lab.dir, "gobgpd.toml"),
    `[global.config]
  as = ${GO_AS}
  router-id = "${lab.v4(3)}"
  local-address-list = ["${lab.v4(3)}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${lab.v4(2)}"
    peer-as = ${BIRD_AS}
  [neighbors.transport.config]
    passive-mode = true
`,
  );
  const child = lab.spawnDaemon(
    "gobgpd",
    ["-f", path.join(lab.dir, "gobgpd.toml"), "-p", "--api-hosts", "127.0.0.1:50051"],
    { ns: lab.ours },
  );
  const gobgp = (args: string[]) =>
    sh("gobgp", ["-u", "127.0.0.1", "-p", "50051", ...args], { ns: lab.ours });
  await until(() => gobgp(["global"]).includes(String(GO_AS)), "gobgpd API", 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const base = rssOf(child.pid!);
  const accepted = () => {
    const j = JSON.parse(gobgp(["-j", "neighbor", lab.v4(2)])) as {
      state: { session_state: number | string };
      afi_safis?: { state?: { accepted?: number; received?: number } }[];
    };
    return {
      up: /^(6|established)$/i.test(String(j.state.session_state)),
      accepted: j.afi_safis?.[0]?.state?.accepted ?? 0,
    };
  };
  const t0 = performance.now();
  birdc(lab, "enable gobgp");
  // Each poll spawns the gobgp CLI, which takes CPU from gobgpd on a 2-core machine: poll at 250 ms
  // (once a second at large sizes) rather than the 100 ms our in-process counter allows.
  const every = n > 200_000 ? 1_000 : 250;
  let learned = 0;
  const done = await until(
    () => {
      learned = accepted().accepted;
      if (process.env.BENCH_DEBUG)
        console.error(`${((performance.now() - t0) / 1000).toFixed(2)} s gobgp accepted ${learned}`);
      return learned >= n;
    },
    `GoBGP learning ${n} routes`,
    capSeconds ? capSeconds * 1000 : 900_000,
    every,
  ).catch((e: Error) => {
    if (!capSeconds) throw e;
    return false;
  });
  const seconds = (performance.now() - t0) / 1000;
  const rss = rssOf(child.pid!);
  return { seconds, bytesPerRoute: (rss - base) / Math.max(learned, 1), learned: done ? n : learned };
}

/** Our speaker (at .1) advertises VIPS /32s to the GoBGP still running at .3; time until GoBGP holds them all. */
async function vips(lab: Lab): Promise<number> {
  const gobgp = (args: string[]) =>
    sh("gobgp", ["-u", "127.0.0.1", "-p", "50051", ...args], { ns: lab.ours });
  // GoBGP must not be busy sending BIRD's table to us while we measure our VIPs reaching it.
  gobgp(["neighbor", "del", lab.v4(2)]);
  await until(
    () => {
      // protobuf JSON omits zero counters, so a missing num_destination means an empty table.
      const j = JSON.parse(gobgp(["-j", "global", "rib", "summary", "-a", "ipv4"]) || "{}") as {
        num_destination?: number;
      };
      return !j.num_destination;
    },
    "GoBGP RIB to empty",
    120_000,
    250,
  );
  gobgp(["neighbor", "add", lab.v4(1), "as", String(OUR_AS)]);
  const d: Driver = await lab.speaker(
    { asn: OUR_AS, routerId: lab.v4(1), listen: { port: 179, host: lab.v4(1) } },
    [
      {
        address: lab.v4(3),
        asn: GO_AS,
        localAddress: lab.v4(1),
        exportPolicy: "accept-all",
        importPolicy: "accept-all",
        connectRetry: 1,
      },
    ],
  );
  await until(
    async () => (await d.peer(lab.v4(3))).state === "Established",
    "our session with GoBGP",
    60_000,
    50,
  );
  const t0 = performance.now();
  await d.call("originate-many", { base: "100.64.0.1", count: VIPS });
  await until(
    async () => (await d.peer(lab.v4(3))).prefixes["ipv4-unicast"]!.advertised >= VIPS,
    "VIPs in our Adj-RIB-Out",
    60_000,
    20,
  );
  if (process.env.BENCH_DEBUG)
    console.error(`${((performance.now() - t0) / 1000).toFixed(2)} s VIPs in Adj-RIB-Out`);
  await until(
    () => {
      const j = JSON.parse(gobgp(["-j", "neighbor", lab.v4(1)])) as {
        afi_safis?: { state?: { accepted?: number } }[];
      };
      return (j.afi_safis?.[0]?.state?.accepted ?? 0) >= VIPS;
    },
    "GoBGP holding our VIPs",
    120_000,
    20,
  );
  return (performance.now() - t0) / 1000;
}

const mb = (b: number) => `${Math.round(b)} B`;
for (const n of sizes) {
  const lab = new Lab(`bench${n}`, 9);
  labs.add(lab);
  try {
    lab.up();
    fs.writeFileSync(path.join(lab.dir, "bird.conf"), birdConfig(lab, n));
    lab.spawnDaemon("bird", [
      "-f",
      "-c",
      path.join(lab.dir, "bird.conf"),
      "-s",
      path.join(lab.dir, "bird.ctl"),
    ]);
    await until(
      () => birdc(lab, "show route count").includes(`${n} of ${n} routes`),
      "BIRD to load its static routes",
      300_000,
      500,
    );
    console.log(`\n${n.toLocaleString("en")} IPv4 routes from BIRD`);
    const a = await ours(lab, n);
    console.log(`  Meridian : ${a.seconds.toFixed(2)} s to learn, ${mb(a.bytesPerRoute)} RSS per route`);
    if (n > GOBGP_MAX && GOBGP_CAP_S <= 0) {
      console.log(`  GoBGP    : not run above ${GOBGP_MAX.toLocaleString("en")} routes (BENCH_GOBGP_MAX)`);
      continue;
    }
    const b = await gobgpd(lab, n, n > GOBGP_MAX ? GOBGP_CAP_S : undefined);
    if (b.learned !== undefined && b.learned < n) {
      // Capped: GoBGP would need at least the cap, so the time ratio is at most a.seconds / cap.
      console.log(
        `  GoBGP    : ${b.learned.toLocaleString("en")} of ${n.toLocaleString("en")} routes after ${b.seconds.toFixed(0)} s (cap BENCH_GOBGP_CAP_S), ${mb(b.bytesPerRoute)} RSS per route held`,
      );
      console.log(
        `  ratio    : time < ${(a.seconds / b.seconds).toFixed(3)} (lower bound for GoBGP), memory ${(a.bytesPerRoute / b.bytesPerRoute).toFixed(2)}`,
      );
      continue;
    }
    console.log(`  GoBGP    : ${b.seconds.toFixed(2)} s to learn, ${mb(b.bytesPerRoute)} RSS per route`);
    console.log(
      `  ratio    : time ${(a.seconds / b.seconds).toFixed(2)} (aim <= 1.0), memory ${(a.bytesPerRoute / b.bytesPerRoute).toFixed(2)} (aim <= 300 B/route absolute)`,
    );
    // With a million routes GoBGP takes minutes to drop BIRD's table first: VIPs are timed at the
    // smallest size only, and only when it is small.
    if (n === Math.min(...sizes) && n <= GOBGP_MAX) {
      const v = await vips(lab);
      console.log(`  ${VIPS.toLocaleString("en")} /32 VIPs advertised to GoBGP in ${v.toFixed(2)} s`);
    }
  } finally {
    await lab.cleanup();
    labs.delete(lab);
  }
}
