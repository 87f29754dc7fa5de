// Real kernel, real packets: two network namespaces joined by a veth pair. The host
// side of the "pod" lives in namespace A (the node), the pod in namespace B. to_pod and
// from_pod are tcx-attached to A's veth; policy lets TCP 8080/8082 and UDP 9000 in.
// Then, while a TCP stream runs, the programs are replaced on their live links again
// and again: every sequence number must arrive and TCP must retransmit nothing.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openPinnedLink } from "@meridian/native";
import { EP_FLAGS, PinnedDatapath, POINT, REASON } from "@meridian/node-agent/datapath/index";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPinDir, requireBpf } from "./harness";

const NS_A = `mdp-${process.pid}-a`;
const NS_B = `mdp-${process.pid}-b`;
const A_IP = "10.200.0.1";
const B_IP = "10.200.0.2";
const A_IP6 = "fd20:200::1";
const B_IP6 = "fd20:200::2";
const pinDir = freshPinDir("veth");
const target = { ifindex: 0, netnsPath: `/run/netns/${NS_A}`, name: "va" };

let dp: PinnedDatapath | undefined;
let v2: PinnedDatapath | undefined;
let server: ChildProcess | undefined;

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: "pipe" }).toString();
const inNs = (ns: string, ...args: string[]) => sh("ip", "netns", "exec", ns, ...args);

// Pod B: echo on TCP 8080/8081 and UDP 9000/9001; on 8082 count newline-separated
// sequence numbers and report whether they arrived complete and in order.
const SERVER = `
const net = require("net"), dgram = require("dgram");
for (const port of [8080, 8081]) for (const host of ["${B_IP}", "${B_IP6}"])
  net.createServer((s) => s.end("ok:" + port)).listen(port, host);
net.createServer((s) => {
  let buf = "", next = 0, bad = 0;
  s.on("data", (d) => {
    buf += d;
    const lines = buf.split("\\n"); buf = lines.pop();
    for (const l of lines) { if (Number(l) !== next) bad++; next++; }
  });
  s.on("end", () => s.end(JSON.stringify({ received: next, outOfOrder: bad })));
}).listen(8082, "${B_IP}");
for (const port of [9000, 9001]) {
  const u = dgram.createSocket("udp4");
  u.on("message", (m, r) => u.send("ok:" + port, r.port, r.address));
  u.bind(port, "${B_IP}");
}
setTimeout(() => console.log("ready"), 200);
`;

// Client in A: one probe, prints "ok:<port>" or "timeout".
const PROBE = `
const net = require("net"), dgram = require("dgram");
const [proto, host, port] = process.argv.slice(1);
const done = (s) => { console.log(s); process.exit(0); };
setTimeout(() => done("timeout"), 1500);
if (proto === "tcp") {
  const s = net.connect(Number(port), host); let d = "";
  s.on("data", (x) => (d += x)); s.on("end", () => done(d)); s.on("error", (e) => done("error:" + e.code));
} else {
  const u = dgram.createSocket("udp4");
  u.on("message", (m) => done(m.toString()));
  u.send("hi", Number(port), host);
}
`;

// Client in A: stream COUNT sequence numbers, paced over ~2.5 s.
const STREAM = `
const net = require("net");
const COUNT = Number(process.argv[1]);
const s = net.connect(8082, "${B_IP}");
let i = 0, out = "";
s.on("data", (d) => (out += d));
s.on("end", () => { console.log(out); process.exit(0); });
s.on("connect", () => {
  const t = setInterval(() => {
    let chunk = "";
    for (let k = 0; k < COUNT / 250 && i < COUNT; k++) chunk += i++ + "\\n";
    s.write(chunk);
    if (i >= COUNT) { clearInterval(t); s.end(); }
  }, 10);
});
`;

function probe(proto: "tcp" | "udp", host: string, port: number): string {
  return inNs(NS_A, process.execPath, "-e", PROBE, proto, host, String(port)).trim();
}

function retransSegs(ns: string): number {
  const out = inNs(ns, "nstat", "-asz", "TcpRetransSegs");
  const m = out.match(/TcpRetransSegs\s+(\d+)/);
  return m?.[1] ? Number(m[1]) : 0;
}

beforeAll(async () => {
  requireBpf();
  sh("ip", "netns", "add", NS_A);
  sh("ip", "netns", "add", NS_B);
  sh("ip", "-n", NS_A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", NS_B);
  for (const [ns, dev, ip4, ip6] of [
    [NS_A, "va", A_IP, A_IP6],
    [NS_B, "vb", B_IP, B_IP6],
  ] as const) {
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    sh("ip", "-n", ns, "addr", "add", `${ip4}/24`, "dev", dev);
    sh("ip", "-n", ns, "addr", "add", `${ip6}/64`, "dev", dev, "nodad");
    sh("ip", "-n", ns, "link", "set", dev, "up");
  }
  target.ifindex = Number(inNs(NS_A, "cat", "/sys/class/net/va/ifindex").trim());

  dp = PinnedDatapath.load({ pinDir });
  for (const ip of [B_IP, B_IP6])
    dp.maps.setEndpoint(ip, {
      epId: 1,
      identity: 100,
      ifindex: target.ifindex,
      flags: EP_FLAGS.POLICY_INGRESS,
    });
  dp.maps.setIpcache(`${A_IP}/32`, 200);
  dp.maps.setIpcache(`${A_IP6}/128`, 200);
  dp.maps.setPolicy(1, [
    { direction: "ingress", identity: 200, protocol: "tcp", port: 8080, verdict: "allow", ruleId: 1 },
    { direction: "ingress", identity: 200, protocol: "tcp", port: 8082, verdict: "allow", ruleId: 2 },
    { direction: "ingress", identity: 200, protocol: "udp", port: 9000, verdict: "allow", ruleId: 3 },
  ]);
  dp.attach("to_pod", target).close();
  dp.attach("from_pod", target).close();

  server = spawn("ip", ["netns", "exec", NS_B, process.execPath, "-e", SERVER], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("server in netns did not start")), 10000);
    server?.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
    server?.on("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
}, 60_000);

afterAll(() => {
  server?.kill("SIGKILL");
  v2?.close();
  dp?.close();
  PinnedDatapath.destroy(pinDir);
  for (const ns of [NS_A, NS_B]) {
    try {
      sh("ip", "netns", "del", ns);
    } catch {
      // not created
    }
  }
});

describe("policy on a real veth", () => {
  it("an allowed TCP port connects, a denied one times out", () => {
    expect(probe("tcp", B_IP, 8080)).toBe("ok:8080");
    expect(probe("tcp", B_IP, 8081)).toBe("timeout");
    expect(dp?.maps.counter(POINT.TO_POD, REASON.POLICY_DEFAULT).packets).toBeGreaterThanOrEqual(1n);
  });

  it("an allowed UDP port answers, a denied one stays silent", () => {
    expect(probe("udp", B_IP, 9000)).toBe("ok:9000");
    expect(probe("udp", B_IP, 9001)).toBe("timeout");
  });

  it("IPv6 TCP is decided the same way", () => {
    expect(probe("tcp", B_IP6, 8080)).toBe("ok:8080");
    expect(probe("tcp", B_IP6, 8081)).toBe("timeout");
  });

  it("replies travel back through from_pod as tracked connections", () => {
    const ct = dp?.maps.listConntrack() ?? [];
    expect(ct.some((e) => e.dst === B_IP && e.dport === 8080 && e.packets >= 3n)).toBe(true);
    expect(dp?.maps.counter(POINT.FROM_POD, REASON.FORWARDED).packets).toBeGreaterThan(0n);
  });
});

describe("live program replacement", () => {
  it("replacing the programs 40 times under a TCP stream loses nothing and retransmits nothing", async () => {
    if (!dp) throw new Error("no datapath");
    // A second load of the same objects: new program instances over the same pinned maps.
    v2 = PinnedDatapath.load({ pinDir });
    const before = { a: retransSegs(NS_A), b: retransSegs(NS_B) };
    const COUNT = 50_000;

    const client = spawn("ip", ["netns", "exec", NS_A, process.execPath, "-e", STREAM, String(COUNT)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    client.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    let clientDone = false;
    const exited = new Promise<number | null>((r) =>
      client.on("exit", (c) => {
        clientDone = true;
        r(c);
      }),
    );

    const progIds = new Set<number>();
    let swaps = 0;
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 40; i++) {
      const from = i % 2 === 0 ? v2 : dp;
      dp.replace("to_pod", target, from.programs.to_pod);
      dp.replace("from_pod", target, from.programs.from_pod);
      progIds.add(from.programs.to_pod.info().id);
      swaps++;
      await new Promise((r) => setTimeout(r, 40));
    }
    // The swaps happened while the stream was still running.
    expect(clientDone).toBe(false);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 20_000))]);
    expect(code).toBe(0);

    const result = JSON.parse(out.trim()) as { received: number; outOfOrder: number };
    expect(swaps).toBe(40);
    expect(progIds.size).toBe(2);
    expect(result).toEqual({ received: COUNT, outOfOrder: 0 });
    expect(retransSegs(NS_A) - before.a).toBe(0);
    expect(retransSegs(NS_B) - before.b).toBe(0);
    // Policy still holds on whichever program is running now.
    expect(probe("tcp", B_IP, 8081)).toBe("timeout");
  }, 60_000);
});

describe("device churn", () => {
  it("a link pinned for a device that was deleted and recreated is replaced by a fresh attach", () => {
    if (!dp) throw new Error("no datapath");
    const mk = () => {
      sh("ip", "-n", NS_A, "link", "add", "vc", "type", "veth", "peer", "name", "vd");
      return Number(inNs(NS_A, "cat", "/sys/class/net/vc/ifindex").trim());
    };
    const first = { ifindex: mk(), netnsPath: target.netnsPath, name: "vc" };
    dp.attach("to_pod", first).close();
    sh("ip", "-n", NS_A, "link", "del", "vc");
    const second = { ...first, ifindex: mk() };
    expect(second.ifindex).not.toBe(first.ifindex);
    const link = dp.attach("to_pod", second);
    expect(link.info()).toMatchObject({ ifindex: second.ifindex, progId: dp.programs.to_pod.info().id });
    link.close();
    expect(dp.detach("to_pod", second)).toBe(true);
    expect(dp.detach("to_pod", second)).toBe(false);
    sh("ip", "-n", NS_A, "link", "del", "vc");
  });
});

describe("agent restart", () => {
  it("a new agent adopts the pinned maps and links: same ids, state kept, policy still enforced", () => {
    if (!dp) throw new Error("no datapath");
    const mapId = dp.maps.maps.mdp_policy.info().id;
    const linkBefore = openPinnedLink(`${pinDir}/links/va-to_pod`);
    const linkId = linkBefore.info().id;
    linkBefore.close();
    dp.close();
    v2?.close();
    v2 = undefined;

    // "Restart": everything is reopened from the pins alone.
    dp = PinnedDatapath.load({ pinDir });
    expect(dp.maps.maps.mdp_policy.info().id).toBe(mapId);
    expect(dp.maps.policyEntries(1)).toHaveLength(3);
    dp.attach("to_pod", target).close(); // adopts: updates the existing link in place
    const linkAfter = openPinnedLink(`${pinDir}/links/va-to_pod`);
    expect(linkAfter.info()).toMatchObject({ id: linkId, progId: dp.programs.to_pod.info().id });
    linkAfter.close();
    expect(probe("tcp", B_IP, 8080)).toBe("ok:8080");
    expect(probe("tcp", B_IP, 8081)).toBe("timeout");
  });
});
