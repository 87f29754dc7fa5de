// The SRv6 lab's namespaces, shared by the lab test (e2e/lab/srv6.test.ts) and bench/srv6: a pod,
// its node (where our from_pod / from_net run), a PE using the Linux kernel's own SRv6, and a
// customer host behind the PE.
//
//   pod ns ── veth pod0/hpod ── node ns ── veth up0/pe0 ── pe ns (seg6) ── veth pec/c0 ── cust ns
//
// The PE decapsulates our SID-addressed packets with End.DX4 towards the customer host (End.DT4
// needs a VRF device, which this kernel lacks) and encapsulates 10.1.0.0/24 back to OUR_SID.
import { execFileSync } from "node:child_process";

export const OUR_SID = "fc00:0:1:a::"; // ours: End.DT4, VRF red
export const PE_SID = "fc00:0:2:e004::"; // the kernel's End.DX4 towards the customer host
export const NODE_SRV6_SOURCE = "fd00:5::1";
export const POD_IP = "10.1.0.10";
export const CUSTOMER_IP = "192.168.50.7";

export interface Srv6Namespaces {
  pod: string;
  node: string;
  pe: string;
  cust: string;
}

export const sh = (ns: string, cmd: string) =>
  execFileSync("ip", ["netns", "exec", ns, "sh", "-c", cmd], { encoding: "utf8" });

function veth(a: string, nsA: string, b: string, nsB: string): void {
  execFileSync("ip", ["link", "add", a, "netns", nsA, "type", "veth", "peer", "name", b, "netns", nsB]);
}

/**
 * Creates the namespaces, links, addresses and the PE's seg6 routes. `podMtu` is the pod's route
 * MTU (lowered by the encapsulation overhead, the datapath's MTU choice). The caller removes the
 * namespaces, also when this throws halfway.
 */
export function buildSrv6Topology(ns: Srv6Namespaces, podMtu: number): { hpod: number; up0: number } {
  const all = [ns.pod, ns.node, ns.pe, ns.cust];
  for (const n of all) execFileSync("ip", ["netns", "add", n]);
  for (const n of all) sh(n, "ip link set lo up");
  veth("pod0", ns.pod, "hpod", ns.node);
  veth("up0", ns.node, "pe0", ns.pe);
  veth("pec", ns.pe, "c0", ns.cust);
  sh(
    ns.pod,
    `ip link set pod0 up && ip addr add ${POD_IP}/24 dev pod0 && ip route add default via 10.1.0.1 mtu ${podMtu}`,
  );
  sh(
    ns.node,
    [
      "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv6.conf.all.seg6_enabled=1",
      "ip link set hpod up && ip addr add 10.1.0.1/24 dev hpod",
      "ip link set up0 up && sysctl -qw net.ipv6.conf.up0.seg6_enabled=1",
      `ip -6 addr add fd00:99::1/64 dev up0 nodad && ip -6 addr add ${NODE_SRV6_SOURCE}/128 dev lo`,
      "ip -6 route add fc00:0:2::/48 via fd00:99::2 dev up0",
    ].join(" && "),
  );
  sh(
    ns.pe,
    [
      "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv6.conf.all.seg6_enabled=1",
      "ip link set pe0 up && ip -6 addr add fd00:99::2/64 dev pe0 nodad && sysctl -qw net.ipv6.conf.pe0.seg6_enabled=1",
      "ip link set pec up && ip addr add 192.168.50.1/24 dev pec",
      `ip -6 route add ${PE_SID}/128 encap seg6local action End.DX4 nh4 ${CUSTOMER_IP} dev pec`,
      "ip -6 route add fc00:0:1::/48 via fd00:99::1 dev pe0",
      `ip route add 10.1.0.0/24 encap seg6 mode encap segs ${OUR_SID} dev pe0 mtu 1400`,
    ].join(" && "),
  );
  sh(
    ns.cust,
    `ip link set c0 up && ip addr add ${CUSTOMER_IP}/24 dev c0 && ip route add default via 192.168.50.1`,
  );
  const idx = (n: string, dev: string) => Number(sh(n, `cat /sys/class/net/${dev}/ifindex`).trim());
  return { hpod: idx(ns.node, "hpod"), up0: idx(ns.node, "up0") };
}
