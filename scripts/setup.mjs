#!/usr/bin/env node
// One idempotent set-up for a fresh Debian/Ubuntu machine: the Debian packages the project
// needs, `npm ci`, and the explicit builds (Prisma client, native addon, BPF objects).
// It installs only what is missing and says what it installs, so a second run takes seconds.
//
//   node scripts/setup.mjs [--profile start|test] [--quiet]
//
// Profiles: `start` is what `npm start` needs (console, API, agent datapath); `test` adds the
// real parts the tests use (PostgreSQL, Chromium, FRR, GoBGP, BIRD, DNS and traffic tools).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, stripVTControlCharacters } from "node:util";

export const root = path.resolve(import.meta.dirname, "..");
const stateDir = path.join(root, ".meridian");
const stateFile = path.join(stateDir, "setup-state.json");

const PACKAGES = {
  // Building the native addon and the BPF objects, running the datapath.
  start: [
    "clang",
    "llvm",
    "libbpf-dev",
    "bpftool",
    "linux-libc-dev",
    "make",
    "g++",
    "python3",
    "iproute2",
    "nftables",
    // The demo lab's top-of-rack router.
    "frr",
  ],
  // Real parts the tests drive.
  test: [
    "postgresql",
    "chromium",
    "fonts-dejavu-core",
    "gobgpd",
    "bird2",
    "dnsmasq",
    "dnsutils",
    "dnsperf",
    "iperf3",
    "tcpdump",
    "procps",
    "iputils-ping",
    "netcat-openbsd",
    // kubectl, driving the stand-in Kubernetes API server of the agent's tests.
    "kubernetes-client",
  ],
};

/** Packages whose command may come from another package that conflicts with it (e.g. `kubectl`). */
const SATISFIED_BY_COMMAND = { "kubernetes-client": "kubectl" };

function log(msg) {
  console.log(`setup: ${msg}`);
}

export function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function has(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function missingDebianPackages(names) {
  if (!has("dpkg-query")) return names;
  return names.filter((name) => {
    if (SATISFIED_BY_COMMAND[name] && has(SATISFIED_BY_COMMAND[name])) return false;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
    return !(r.status === 0 && r.stdout.includes("install ok installed"));
  });
}

/** Installs missing Debian packages. Returns the list of what could not be installed, with why. */
export function ensureDebianPackages(profile) {
  const wanted = profile === "test" ? [...PACKAGES.start, ...PACKAGES.test] : PACKAGES.start;
  const missing = missingDebianPackages(wanted);
  if (missing.length === 0) return { unavailable: [], reason: null };
  if (!has("apt-get")) return { unavailable: missing, reason: "this machine has no apt-get" };
  if (!isRoot()) return { unavailable: missing, reason: "installing Debian packages needs root" };
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  if (update.status !== 0) return { unavailable: missing, reason: "apt-get update failed" };
  // Debian's daemons (frr, bird2, dnsmasq, postgresql) must not start system-wide services:
  // tests start their own instances inside network namespaces or on their own ports.
  const policy = "/usr/sbin/policy-rc.d";
  const hadPolicy = existsSync(policy);
  if (!hadPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const r = spawnSync(
      "apt-get",
      [
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "-o",
        "Dpkg::Options::=--force-confold",
        ...missing,
      ],
      { stdio: "inherit", env },
    );
    if (r.status !== 0)
      return { unavailable: missingDebianPackages(missing), reason: "apt-get install failed" };
  } finally {
    if (!hadPolicy) execFileSync("rm", ["-f", policy]);
  }
  return { unavailable: [], reason: null };
}

function readState() {
  try {
    return JSON.parse(readFileSync(stateFile, "utf8"));
  } catch {
    return {};
  }
}

function writeState(state) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Runs a command; a failure names it with the last line it wrote to stderr, its own reason. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ["inherit", "inherit", "pipe"], cwd: root, ...opts });
  if (r.stderr?.length) process.stderr.write(r.stderr);
  if (r.status !== 0) {
    const said = stripVTControlCharacters(String(r.stderr ?? ""))
      .trim()
      .split("\n")
      .pop()
      ?.trim();
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.error ? r.error.message : `exit code ${r.status}`})${said ? `: ${said}` : ""}`,
    );
  }
}

export function ensureNodeModules() {
  const lock = readFileSync(path.join(root, "package-lock.json"));
  const hash = createHash("sha256").update(lock).digest("hex");
  const state = readState();
  if (state.lockHash === hash && existsSync(path.join(root, "node_modules", ".package-lock.json"))) return;
  log("installing npm packages (npm ci)");
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
  writeState({ ...readState(), lockHash: hash });
}

/** Builds the parts that the apps depend on. Turbo skips whatever has not changed. */
export function buildDependencies({ datapath }) {
  const filters = ["--filter=@meridian/db"];
  if (datapath) filters.push("--filter=@meridian/native", "--filter=@meridian/bpf");
  run("npx", ["turbo", "run", "build", ...filters, "--output-logs=errors-only", "--log-prefix=none"]);
}

/** Whether this machine can run the eBPF datapath, and if not, why. */
export function datapathSupport() {
  if (process.platform !== "linux") return { ok: false, why: "the datapath needs Linux" };
  if (!isRoot()) return { ok: false, why: "loading eBPF programs needs root (CAP_BPF, CAP_NET_ADMIN)" };
  if (!existsSync("/sys/kernel/btf/vmlinux"))
    return { ok: false, why: "the kernel exposes no BTF (/sys/kernel/btf/vmlinux)" };
  const [major, minor] = (readFileSync("/proc/sys/kernel/osrelease", "utf8").match(/^(\d+)\.(\d+)/) ?? [])
    .slice(1)
    .map(Number);
  if (major < 6 || (major === 6 && minor < 6))
    return { ok: false, why: `kernel ${major}.${minor} is older than 6.6 (tcx)` };
  if (!has("clang") || !has("bpftool")) return { ok: false, why: "clang and bpftool are not installed" };
  return { ok: true, why: null };
}

export function ensureBpffs() {
  if (!isRoot()) return;
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!/ \/sys\/fs\/bpf bpf /.test(mounts)) {
    log("mounting bpffs at /sys/fs/bpf");
    spawnSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"], { stdio: "inherit" });
  }
}

export function setup({ profile = "start" } = {}) {
  const t0 = Date.now();
  const pkgs = ensureDebianPackages(profile);
  if (pkgs.unavailable.length) {
    log(`not installed (${pkgs.reason}): ${pkgs.unavailable.join(" ")}`);
  }
  ensureNodeModules();
  const dp = datapathSupport();
  if (dp.ok) ensureBpffs();
  buildDependencies({ datapath: dp.ok });
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { unavailablePackages: pkgs.unavailable, packagesReason: pkgs.reason, datapath: dp };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // --report FILE: what could not be set up, as JSON, for `npm start` (which runs this as a child).
  const { values } = parseArgs({
    options: { profile: { type: "string", default: "start" }, report: { type: "string" } },
  });
  try {
    const report = setup({ profile: values.profile });
    if (values.report) writeFileSync(values.report, `${JSON.stringify(report)}\n`);
  } catch (err) {
    console.error(`setup: ${err.message}`);
    process.exit(1);
  }
}
