#!/usr/bin/env node
// `npm run mutation:bpf [-- --only id,id]`: builds each mutation of mutations.mjs into a scratch
// copy of bpf/ (never bpf/ itself: the sources and build/ are left untouched, so an interrupted
// run has nothing to restore), runs the datapath tests (bpf/tests, real BPF_PROG_TEST_RUN; needs
// root) against the mutant's objects through MERIDIAN_BPF_BUILD_DIR, and reports how many the
// tests caught. The unmutated copy is built and tested first: a broken baseline would make every
// mutant look caught.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs, stripVTControlCharacters } from "node:util";
import { mutations } from "./mutations.mjs";

const bpfDir = path.resolve(import.meta.dirname, "..");
const root = path.resolve(bpfDir, "..");
const { values } = parseArgs({
  options: { only: { type: "string" }, keep: { type: "boolean", default: false } },
});
const only = values.only ? new Set(values.only.split(",")) : null;
const selected = mutations.filter((m) => !only || only.has(m.id));
if (only && selected.length !== only.size) {
  const known = new Set(mutations.map((m) => m.id));
  console.error(`mutation:bpf: no mutation ${[...only].filter((id) => !known.has(id)).join(", ")}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("mutation:bpf: the datapath tests load BPF programs and need root");
  process.exit(2);
}

function log(msg) {
  console.log(`mutation:bpf: ${msg}`);
}

/** Hash of bpf/lib and the programs: checked at the end to prove the real sources were not touched. */
function sourceDigest() {
  const h = createHash("sha256");
  for (const f of [
    ...readdirSync(path.join(bpfDir, "lib")).map((f) => `lib/${f}`),
    ...readdirSync(bpfDir).filter((f) => f.endsWith(".c")),
  ].sort()) {
    h.update(f).update(readFileSync(path.join(bpfDir, f)));
  }
  return h.digest("hex");
}

const scratch = mkdtempSync(path.join(os.tmpdir(), "meridian-bpf-mutation-"));
const src = path.join(scratch, "bpf");
let child;
function cleanUp() {
  if (child && child.exitCode === null) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
  if (!values.keep) rmSync(scratch, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    cleanUp();
    console.log(
      `\nmutation:bpf: interrupted; ${values.keep ? `scratch kept in ${scratch}` : "scratch removed"}`,
    );
    process.exit(130);
  });
}

/** Runs a command in its own process group (so an interrupt can end all of it), output to a log. */
function run(cmd, args, opts) {
  return new Promise((resolve) => {
    const out = [];
    child = spawn(cmd, args, { ...opts, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => out.push(d));
    child.on("close", (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), output: Buffer.concat(out).toString() }),
    );
  });
}

/** A fresh copy of what the Makefile needs (it makes vmlinux.h when bpf/ has none); the build
 * goes to <scratch>/bpf/build. */
function freshCopy() {
  rmSync(src, { recursive: true, force: true });
  mkdirSync(path.join(src, "tests"), { recursive: true });
  for (const f of readdirSync(bpfDir).filter(
    (f) => f.endsWith(".c") || f === "Makefile" || f === "vmlinux.h",
  )) {
    cpSync(path.join(bpfDir, f), path.join(src, f));
  }
  cpSync(path.join(bpfDir, "lib"), path.join(src, "lib"), { recursive: true });
  cpSync(path.join(bpfDir, "tests", "progs"), path.join(src, "tests", "progs"), { recursive: true });
}

function apply(m) {
  const file = path.join(src, m.file);
  const text = readFileSync(file, "utf8");
  const at = text.indexOf(m.find);
  if (at < 0 || text.indexOf(m.find, at + 1) >= 0) {
    throw new Error(
      `${m.id}: the text to mutate occurs ${at < 0 ? "nowhere" : "more than once"} in bpf/${m.file}; update mutations.mjs`,
    );
  }
  writeFileSync(file, text.slice(0, at) + m.replace + text.slice(at + m.find.length));
}

// Left out: the live-replacement test counts TCP retransmissions over 40 program swaps, which a
// loaded machine produces on its own (it failed the baseline here); it tests replacement, which
// no header mutation touches, and a flake would count as a catch.
const SKIP_FLAKY = "^(?!.*retransmits nothing)";
/** The datapath tests: bpf/tests, then the agent's typed layer over the same programs (conntrack
 * revalidation after a policy change is driven from there). */
const SUITES = [
  { cwd: bpfDir, args: ["-t", SKIP_FLAKY] },
  { cwd: path.join(root, "apps", "node-agent"), args: ["src/datapath/datapath.test.ts"] },
];

async function buildAndTest(label) {
  const built = await run("make", ["-C", src, "-s", `-j${Math.min(2, os.cpus().length)}`], { cwd: src });
  if (built.code !== 0) return { outcome: "did not build", output: built.output };
  const env = {
    ...process.env,
    MERIDIAN_BPF_BUILD_DIR: path.join(src, "build"),
    FORCE_COLOR: "0",
    NO_COLOR: "1",
  };
  let tested;
  for (const suite of SUITES) {
    tested = await run("npx", ["vitest", "run", ...suite.args, "--bail=1", "--reporter=dot", "--silent"], {
      cwd: suite.cwd,
      env,
    });
    if (tested.code !== 0) break;
  }
  const failed = stripVTControlCharacters(tested.output)
    .match(/(?:FAIL|×)\s+(.+)/)?.[1]
    ?.trim();
  return { outcome: tested.code === 0 ? "survived" : "caught", by: failed, output: tested.output, label };
}

const before = sourceDigest();
const t0 = Date.now();
const results = [];
let exitCode = 0;
try {
  freshCopy();
  log(`baseline: building and testing the unmutated sources in ${scratch}`);
  const base = await buildAndTest("baseline");
  if (base.outcome !== "survived") {
    console.log(base.output.slice(-4000));
    throw new Error(
      `the unmutated datapath ${base.outcome === "did not build" ? "did not build" : "failed its tests"}: fix that first`,
    );
  }
  for (const [i, m] of selected.entries()) {
    freshCopy();
    apply(m);
    const t = Date.now();
    const r = await buildAndTest(m.id);
    results.push({
      id: m.id,
      file: m.file,
      what: m.what,
      outcome: r.outcome,
      by: r.by,
      seconds: (Date.now() - t) / 1000,
    });
    log(
      `[${i + 1}/${selected.length}] ${m.id}: ${r.outcome}${r.by ? ` (${r.by})` : ""} in ${((Date.now() - t) / 1000).toFixed(0)} s`,
    );
    if (r.outcome === "did not build") console.log(r.output.slice(-1500));
  }
} catch (err) {
  console.error(`mutation:bpf: ${err.message}`);
  exitCode = 1;
} finally {
  cleanUp();
}
if (sourceDigest() !== before) {
  console.error(
    "mutation:bpf: bpf/ sources changed during the run (not by this script, which edits only its scratch copy)",
  );
  exitCode = 1;
}

const valid = results.filter((r) => r.outcome !== "did not build");
const caught = valid.filter((r) => r.outcome === "caught");
if (results.length) {
  console.log("");
  for (const r of results) console.log(`  ${r.outcome.padEnd(13)} ${r.id.padEnd(34)} ${r.what}`);
  console.log("");
  const score = valid.length ? (100 * caught.length) / valid.length : 0;
  console.log(
    `BPF mutations: ${caught.length} of ${valid.length} caught (${score.toFixed(1)}%)${results.length > valid.length ? `, ${results.length - valid.length} did not build` : ""}, ${((Date.now() - t0) / 60_000).toFixed(1)} min`,
  );
  const dir = path.join(root, "reports", "mutation");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "bpf.json"),
    `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`,
  );
  if (caught.length < valid.length) exitCode ||= 1;
}
process.exit(exitCode);
