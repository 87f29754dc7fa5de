// SRv6 L3VPN across real namespaces: our eBPF datapath (from_pod / from_net on tcx) as one PE, the
// Linux kernel's own seg6 as the other. A pod in VRF red reaches a customer host behind the kernel
// PE and gets its replies over SRv6 (outer headers captured with tcpdump on the link between the
// PEs); a 1 MB TCP transfer crosses the encapsulation. The pod's route MTU is lowered by the
// encapsulation overhead (the MTU choice, see bpf/lib/srv6.h).
//
//   pod ns ── veth ── node ns (from_pod on h-side, from_net on up0) ── veth ── pe ns (seg6) ── cust ns
import { execFileSync, spawn } from "node:child_process";
import { PinnedDatapath } from "@meridian/node-agent/datapath/index";
import { Srv6Kernel } from "@meridian/node-agent/features/srv6/kernel";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSrv6Topology, NODE_SRV6_SOURCE, OUR_SID, PE_SID, sh } from "./srv6-topology";

const T = `s6${process.pid % 100000}`;
const NS = { pod: `${T}-pod`, node: `${T}-node`, pe: `${T}-pe`, cust: `${T}-cust` };
const PIN = `/sys/fs/bpf/meridian-test-${process.pid}-srv6lab`;
const SRC = NODE_SRV6_SOURCE;
let dp: PinnedDatapath;
let k: Srv6Kernel;

beforeAll(() => {
  const { hpod, up0 } = buildSrv6Topology(NS, 1460);
  dp = PinnedDatapath.load({ pinDir: PIN });
  k = Srv6Kernel.open(PIN);
  const mac = (ns: string, dev: string) => sh(ns, `cat /sys/class/net/${dev}/address`).trim();
  dp.attach("from_pod", { ifindex: hpod, netnsPath: `/run/netns/${NS.node}`, name: `${T}-hpod` });
  dp.attach("from_net", {
    ifindex: up0,
    netnsPath: `/run/netns/${NS.node}`,
    name: `${T}-up0`,
  });
  dp.maps.setEndpoint("10.1.0.10", { epId: 7, identity: 1000, ifindex: hpod, flags: 0 });
  k.apply({
    source: SRC,
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
      { vrfId: 10, destination: "192.168.50.0/24", segments: [PE_SID], mode: "HEncapsRed", source: "static" },
    ],
    sids: [{ sid: OUR_SID, vrfId: 10, behavior: "End.DT4" }],
  });
}, 60_000);

afterAll(() => {
  k?.close();
  dp?.close();
  PinnedDatapath.destroy(PIN);
  for (const n of Object.values(NS)) {
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
});

const stat = (name: string) => k.counters().find((c) => c.name === name)?.packets ?? 0n;

describe("pod in VRF red ↔ customer host behind a kernel SRv6 PE", () => {
  it("ping crosses both ways over SRv6: encapsulated by us, decapsulated by us", () => {
    const out = sh(NS.pod, "ping -c 3 -i 0.2 -W 2 192.168.50.7");
    expect(out).toMatch(/3 received/);
    expect(stat("encapsulated")).toBeGreaterThanOrEqual(3n);
    expect(stat("decapsulated")).toBeGreaterThanOrEqual(3n);
  });

  it("the outer headers on the wire: ours reduced (no SRH) to the PE's SID, the kernel's with an SRH to ours", async () => {
    const cap = spawn(
      "ip",
      [
        "netns",
        "exec",
        NS.pe,
        "tcpdump",
        "-l",
        "-n",
        "-v",
        "-c",
        "4",
        "-i",
        "pe0",
        "ip6[6] == 4 or ip6[6] == 43",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let text = "";
    cap.stdout.on("data", (d) => {
      text += String(d);
    });
    await new Promise((r) => setTimeout(r, 700));
    sh(NS.pod, "ping -c 2 -i 0.2 -W 2 192.168.50.7");
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        cap.kill();
        resolve();
      }, 4000);
      cap.on("exit", () => {
        clearTimeout(t);
        resolve();
      });
    });
    // Ours: H.Encaps.Red, no SRH, hop limit 64, the node's source, the PE's SID; inner TTL 63.
    expect(text).toMatch(
      /hlim 64, next-header IPIP \(4\) payload length: 84\) fd00:5::1 > fc00:0:2:e004::: IP \(tos 0x0, ttl 63/,
    );
    expect(text).toMatch(/10\.1\.0\.10 > 192\.168\.50\.7: ICMP echo request/);
    // The kernel's `mode encap`: an SRH with our SID, segments left 0, which our decap accepted.
    expect(text).toMatch(/fd00:99::2 > fc00:0:1:a::: RT6 \(len=2, type=4, segleft=0, last-entry=0/);
    expect(text).toMatch(/192\.168\.50\.7 > 10\.1\.0\.10: ICMP echo reply/);
  });

  it("a 1 MB TCP transfer completes across the encapsulation", () => {
    const server = spawn(
      "ip",
      [
        "netns",
        "exec",
        NS.cust,
        "python3",
        "-c",
        "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',5001));s.listen(1)\nc,_=s.accept();n=0\nwhile True:\n d=c.recv(65536)\n if not d: break\n n+=len(d)\nc.sendall(str(n).encode());c.close()",
      ],
      { stdio: "ignore" },
    );
    const encBefore = k.counters().find((c) => c.name === "encapsulated")?.bytes ?? 0n;
    try {
      execFileSync("sleep", ["0.5"]);
      const got = sh(
        NS.pod,
        "python3 -c \"import socket\ns=socket.create_connection(('192.168.50.7',5001),timeout=10);s.sendall(b'x'*1048576);s.shutdown(socket.SHUT_WR);print(s.recv(100).decode())\"",
      );
      expect(got.trim()).toBe("1048576");
      // Every byte went through our encapsulation (GSO packets count once, bytes in full).
      const enc = k.counters().find((c) => c.name === "encapsulated");
      expect((enc?.bytes ?? 0n) - encBefore).toBeGreaterThan(1_048_576n);
      expect(k.counters().find((c) => c.name === "oversize")?.packets).toBe(0n);
    } finally {
      server.kill();
    }
  });

  it("the policy removed: the pod's traffic to the site is no longer encapsulated", () => {
    k.apply({
      source: SRC,
      mtu: 1500,
      members: [],
      policies: [],
      sids: [{ sid: OUR_SID, vrfId: 10, behavior: "End.DT4" }],
    });
    const before = stat("encapsulated");
    expect(() => sh(NS.pod, "ping -c 1 -W 1 192.168.50.7")).toThrow();
    expect(stat("encapsulated")).toBe(before);
  });
});
