// FRR 8.4 (zebra + bgpd from Debian) inside one of the lab's namespaces, as the ToR router: the
// BGP lab test and the `npm start` demo both use it. The daemons fork (-d) into the namespace,
// so the lab's teardown, which kills every process in its namespaces, stops them too.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { run } from "./builder";

export const FRR_BGPD = "/usr/lib/frr/bgpd";

export interface Frr {
  dir: string;
  /** vtysh with one or more commands, e.g. vtysh("show bgp summary json"). */
  vtysh(...cmds: string[]): Promise<string>;
}

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function running(pidFile: string): boolean {
  try {
    process.kill(Number(readFileSync(pidFile, "utf8").trim()), 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts zebra and bgpd in `netns` with `bgpdConf`; state (sockets, logs) lives in `dir`. If
 * they already run from `dir`, they are reused as they are (their configuration is not changed).
 */
export async function startFrr(
  netns: string,
  dir: string,
  bgpdConf: string,
  hostname = "mrd-tor",
): Promise<Frr> {
  const inNs = (argv: string[]) => run("ip", ["netns", "exec", netns, ...argv]);
  const frr: Frr = {
    dir,
    vtysh: (...cmds) => inNs(["vtysh", "--vty_socket", dir, ...cmds.flatMap((c) => ["-c", c])]),
  };
  if (running(`${dir}/zebra.pid`) && running(`${dir}/bgpd.pid`)) return frr;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "zebra.conf"), `hostname ${hostname}\nlog file ${dir}/zebra.log\n`);
  writeFileSync(path.join(dir, "bgpd.conf"), bgpdConf);
  // The daemons drop to the frr user, which must own its run directory.
  await run("chown", ["-R", "frr:frr", dir]);
  const common = ["-z", `${dir}/zserv.api`, "--vty_socket", dir, "-P", "0"];
  await inNs(["/usr/lib/frr/zebra", "-d", "-f", `${dir}/zebra.conf`, "-i", `${dir}/zebra.pid`, ...common]);
  await waitFor("zebra socket", () => existsSync(`${dir}/zserv.api`));
  await inNs([FRR_BGPD, "-d", "-f", `${dir}/bgpd.conf`, "-i", `${dir}/bgpd.pid`, ...common]);
  await waitFor("bgpd vty socket", () => existsSync(`${dir}/bgpd.vty`));
  return frr;
}
