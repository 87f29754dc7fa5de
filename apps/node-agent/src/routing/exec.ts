// Thin wrappers over iproute2 and nsenter. Everything the agent does to the kernel goes
// through here, so a failing command always surfaces as one error type that names the
// command, its arguments and what the kernel said.
import { execFile } from "node:child_process";

export class CommandError extends Error {
  constructor(
    readonly command: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command.join(" ")} failed (exit ${exitCode}): ${stderr.trim() || "no output"}`);
    this.name = "CommandError";
  }
}

export interface RunOptions {
  /** Path of a network namespace (e.g. /var/run/netns/x or /proc/PID/ns/net) to run inside. */
  netns?: string;
  input?: string;
  timeoutMs?: number;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  // nsenter rather than `ip netns exec`: CNI hands us a netns *path* which need not live
  // under /var/run/netns, and nsenter does not remount /sys (cheaper, no side effects).
  const argv = opts.netns ? ["nsenter", `--net=${opts.netns}`, "--", cmd, ...args] : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { timeout: opts.timeoutMs ?? 15_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === "number" ? err.code : null;
          reject(new CommandError(argv, code, stderr || err.message));
        } else resolve(stdout);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function ip(args: string[], opts: RunOptions = {}): Promise<string> {
  return run("ip", args, opts);
}

/** `ip -json ...`, parsed. iproute2 prints nothing at all for an empty list. */
export async function ipJson<T>(args: string[], opts: RunOptions = {}): Promise<T[]> {
  const out = await ip(["-json", ...args], opts);
  if (!out.trim()) return [];
  return JSON.parse(out) as T[];
}

/** Several ip commands in one process; `-force` is not used, so the first failure stops the batch. */
export function ipBatch(lines: string[], opts: RunOptions = {}): Promise<string> {
  return ip(["-batch", "-"], { ...opts, input: `${lines.join("\n")}\n` });
}

/**
 * Many ip commands in one process with `-force`: every line runs even when others fail, and the
 * failures come back by line index (0-based) with the kernel's words. A line that does not parse
 * ends the whole batch, so callers must only hand in well-formed lines.
 */
export function ipBatchEach(lines: string[], opts: RunOptions = {}): Promise<Map<number, string>> {
  const argv = ["ip", "-force", "-batch", "-"];
  const full = opts.netns ? ["nsenter", `--net=${opts.netns}`, "--", ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = execFile(
      full[0]!,
      full.slice(1),
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 32 * 1024 * 1024 },
      (err, _stdout, stderr) => {
        // iproute2 prints the kernel's message, then "Command failed -:<line>" (1-based).
        const failures = new Map<number, string>();
        let words: string[] = [];
        for (const l of stderr.split("\n")) {
          const m = /^Command failed -:(\d+)$/.exec(l.trim());
          if (m) {
            failures.set(Number(m[1]) - 1, words.join("; ") || "failed");
            words = [];
          } else if (l.trim()) words.push(l.trim().replace(/^(Error|RTNETLINK answers): /, ""));
        }
        // Words after the last marker: a line that did not parse stopped the batch there.
        if (err && (failures.size === 0 || words.length > 0 || err.killed)) {
          const code = typeof err.code === "number" ? err.code : null;
          reject(new CommandError(full, code, stderr || err.message));
        } else resolve(failures);
      },
    );
    child.stdin?.end(`${lines.join("\n")}\n`);
  });
}

/** Write sysctls under /proc/sys/net inside a namespace (paths are per-netns). */
export async function setSysctls(values: Record<string, string>, netns?: string): Promise<void> {
  const script = Object.entries(values)
    .map(([k, v]) => `echo ${v} > /proc/sys/${k.replaceAll(".", "/")}`)
    .join(" && ");
  await run("sh", ["-c", script], { netns });
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  operstate: string;
  address?: string;
  link_netnsid?: number;
}
export interface IpAddrInfo {
  family: "inet" | "inet6";
  local: string;
  prefixlen: number;
  scope: string;
}
export interface IpAddr extends IpLink {
  addr_info: IpAddrInfo[];
}
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  flags?: string[];
  type?: string;
}
