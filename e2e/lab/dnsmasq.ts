// A real DNS server for the lab: Debian's dnsmasq in the lab's DNS namespace, answering only from
// the records it is given (no upstream, no /etc/hosts), bound to one address. Used by the FQDN lab
// test and bench/dns; the caller kills it and removes `stateDir`.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

export function startDnsmasq(netns: string, listen: string, stateDir: string, args: string[]): ChildProcess {
  return spawn(
    "ip",
    [
      "netns",
      "exec",
      netns,
      "dnsmasq",
      "--keep-in-foreground",
      "--no-resolv",
      "--no-hosts",
      "--bind-interfaces",
      `--listen-address=${listen}`,
      `--pid-file=${path.join(stateDir, "dnsmasq.pid")}`,
      ...args,
    ],
    { stdio: "ignore" },
  );
}
