import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type {
  Family,
  OriginateRoute,
  PeerConfig,
  PeerStatus,
  RouteView,
  SpeakerConfig,
} from "../src/index.js";

// Network-namespace lab for interop tests: a namespace for us and one for the daemon, joined by a
// veth pair, addresses only inside the namespaces. Everything created is recorded so cleanup can
// remove it even when a test fails halfway.

const here = path.dirname(fileURLToPath(import.meta.url));
export const pkgDir = path.resolve(here, "..");

export function sh(
  cmd: string,
  args: string[],
  opts: { ns?: string; allowFail?: boolean; timeout?: number } = {},
): string {
  const [c, a] = opts.ns ? ["ip", ["netns", "exec", opts.ns, cmd, ...args]] : [cmd, args];
  try {
    return execFileSync(c, a, {
      encoding: "utf8",
      timeout: opts.timeout ?? 20_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    if (opts.allowFail) return "";
    const err = e as { stderr?: string; message: string };
    throw new Error(`${c} ${a.join(" ")} failed: ${err.stderr || err.message}`);
  }
}

export async function until<T>(
  fn: () => T | Promise<T>,
  what: string,
  ms = 20_000,
  every = 200,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, every));
  }
}

export class Lab {
  readonly tag: string;
  readonly ours: string;
  readonly theirs: string;
  readonly dir: string;
  private children: ChildProcess[] = [];

  /** `names`: other tests' own namespace names (their branch prefix) instead of `bgpi-<pid>-<name>`. */
  constructor(
    name: string,
    readonly n: number,
    names?: { tag: string; ours: string; theirs: string },
  ) {
    this.tag = names?.tag ?? `bgpi-${process.pid}-${name}`;
    this.ours = names?.ours ?? `${this.tag}-us`;
    this.theirs = names?.theirs ?? this.tag;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.tag}-`));
    fs.chmodSync(this.dir, 0o777);
  }

  /** Ours end in .1 (.3, .5 for extra sessions, e.g. one the daemon has misconfigured); the daemon's in .2 (.4, .6). */
  v4(host: number): string {
    return `10.99.${this.n}.${host}`;
  }

  v6(host: number): string {
    return `fd99:${this.n}::${host}`;
  }

  up(): void {
    const vu = `bi${process.pid % 100000}u${this.n}`;
    const vt = `bi${process.pid % 100000}t${this.n}`;
    sh("ip", ["netns", "add", this.ours]);
    sh("ip", ["netns", "add", this.theirs]);
    sh("ip", [
      "link",
      "add",
      vu,
      "netns",
      this.ours,
      "type",
      "veth",
      "peer",
      "name",
      vt,
      "netns",
      this.theirs,
    ]);
    for (const [ns, dev, hosts] of [
      [this.ours, vu, [1, 3, 5]],
      [this.theirs, vt, [2, 4, 6]],
    ] as const) {
      sh("ip", ["link", "set", "lo", "up"], { ns });
      for (const h of hosts) {
        sh("ip", ["addr", "add", `${this.v4(h)}/24`, "dev", dev], { ns });
        sh("ip", ["-6", "addr", "add", `${this.v6(h)}/64`, "dev", dev, "nodad"], { ns });
      }
      sh("ip", ["link", "set", dev, "up"], { ns });
    }
  }

  /** Starts a daemon in the peer namespace; it is killed by PID on cleanup. */
  spawnDaemon(cmd: string, args: string[], opts: { pidFile?: string; ns?: string } = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", opts.ns ?? this.theirs, cmd, ...args], {
      cwd: this.dir,
      stdio: [
        "ignore",
        fs.openSync(path.join(this.dir, `${path.basename(cmd)}.out`), "a"),
        fs.openSync(path.join(this.dir, `${path.basename(cmd)}.err`), "a"),
      ],
    });
    this.children.push(child);
    if (opts.pidFile) this.pidFiles.push(opts.pidFile);
    return child;
  }

  pidFiles: string[] = [];

  private inOurNamespaces(pid: number): boolean {
    return [this.theirs, this.ours].some((ns) =>
      sh("ip", ["netns", "pids", ns], { allowFail: true }).split(/\s+/).includes(String(pid)),
    );
  }

  /** Starts our speaker (driver.ts) inside our namespace. */
  async speaker(
    speaker: SpeakerConfig,
    peers: PeerConfig[],
    nodeArgs: string[] = [],
    native = false,
  ): Promise<Driver> {
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        this.ours,
        process.execPath,
        ...nodeArgs,
        "--import",
        "tsx",
        path.join(here, "driver.ts"),
        JSON.stringify({ speaker, peers, native }),
      ],
      { cwd: pkgDir, stdio: ["pipe", "pipe", "pipe"] },
    );
    this.children.push(child);
    const d = new Driver(child);
    child.stderr!.on("data", (b: Buffer) => {
      d.stderr += b.toString();
      fs.appendFileSync(path.join(this.dir, "speaker.err"), b);
    });
    await d.ready;
    return d;
  }

  async cleanup(): Promise<void> {
    // Only processes still running: a PID of a child that already exited may belong to someone else now.
    const live = this.children
      .filter((c) => c.exitCode === null && c.signalCode === null && c.pid)
      .map((c) => c.pid!);
    for (const f of this.pidFiles) {
      try {
        const pid = Number(fs.readFileSync(f, "utf8").trim());
        // A daemon's pid file is trusted only while that PID still lives in one of our namespaces.
        if (pid > 0 && this.inOurNamespaces(pid)) live.push(pid);
      } catch {}
    }
    for (const pid of live) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const pid of live) {
      try {
        if (this.inOurNamespaces(pid) || this.children.some((c) => c.pid === pid && c.exitCode === null))
          process.kill(pid, "SIGKILL");
      } catch {}
    }
    // Daemons that forked (FRR -d) are found by their namespace, never by name.
    for (const ns of [this.theirs, this.ours]) {
      for (const pid of sh("ip", ["netns", "pids", ns], { allowFail: true }).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
      }
      sh("ip", ["netns", "del", ns], { allowFail: true });
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts zebra and bgpd (as the frr user, which must own the run directory) with the given bgpd.conf. */
export async function startFrr(
  lab: Lab,
  bgpdConf: string,
  opts: { zebraConf?: string; netnsVrfs?: boolean } = {},
): Promise<void> {
  const d = lab.dir;
  // zebra holds what is not BGP's, e.g. the SRv6 locators; `-n` makes network namespaces its VRFs.
  fs.writeFileSync(
    path.join(d, "zebra.conf"),
    `hostname frr-lab\nlog file ${d}/zebra.log\n${opts.zebraConf ?? ""}`,
  );
  fs.writeFileSync(path.join(d, "bgpd.conf"), bgpdConf);
  sh("chown", ["-R", "frr:frr", d]);
  const common = ["-z", `${d}/zserv.api`, "--vty_socket", d, "-P", "0"];
  const zebraArgs = [
    "-d",
    ...(opts.netnsVrfs ? ["-n"] : []),
    "-f",
    `${d}/zebra.conf`,
    "-i",
    `${d}/zebra.pid`,
  ];
  lab.spawnDaemon("/usr/lib/frr/zebra", [...zebraArgs, ...common], {
    pidFile: `${d}/zebra.pid`,
  });
  await until(() => fs.existsSync(`${d}/zserv.api`), "zebra socket");
  lab.spawnDaemon("/usr/lib/frr/bgpd", ["-d", "-f", `${d}/bgpd.conf`, "-i", `${d}/bgpd.pid`, ...common], {
    pidFile: `${d}/bgpd.pid`,
  });
  await until(() => fs.existsSync(`${d}/bgpd.vty`), "bgpd vty socket");
}

/** JSON-lines RPC to driver.ts. */
export class Driver {
  private nextId = 1;
  /** The speaker's stderr so far, quoted when it dies so a failure explains itself. */
  stderr = "";
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;

  constructor(readonly child: ChildProcess) {
    const rl = readline.createInterface({ input: child.stdout! });
    let onReady: () => void = () => {};
    let onFail: (e: Error) => void = () => {};
    this.ready = new Promise((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    child.once("exit", (code) => {
      const err = new Error(`speaker exited with ${code}: ${this.stderr.slice(-1500)}`);
      onFail(err);
      for (const w of this.waiting.values()) w.reject(err);
    });
    rl.on("line", (line) => {
      let msg: { ready?: boolean; id?: number; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.ready) return onReady();
      const w = this.waiting.get(msg.id!);
      if (!w) return;
      this.waiting.delete(msg.id!);
      if (msg.error) w.reject(new Error(msg.error));
      else w.resolve(msg.result);
    });
  }

  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  originate(routes: OriginateRoute[]) {
    return this.call<boolean>("originate", { routes });
  }
  withdraw(routes: { family?: Family; prefix: string; rd?: string }[]) {
    return this.call<boolean>("withdraw", { routes });
  }
  status() {
    return this.call<PeerStatus[]>("status");
  }
  async peer(address: string) {
    return (await this.status()).find((s) => s.address === address)!;
  }
  received(peer: string, family: Family) {
    return this.call<RouteView[]>("received", { peer, family });
  }
  advertised(peer: string, family: Family) {
    return this.call<RouteView[]>("advertised", { peer, family });
  }
}
