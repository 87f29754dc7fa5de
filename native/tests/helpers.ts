// Builds the C fixtures and provides a fresh bpffs pin directory per test file.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isBpffs } from "../index";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Fail (never skip) when this machine cannot run the suite. */
export function requireBpf(): void {
  if (process.getuid?.() !== 0) throw new Error("native tests need root (CAP_BPF, CAP_NET_ADMIN)");
  if (!isBpffs("/sys/fs/bpf")) execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
}

export function buildFixture(name: string): string {
  const out = path.join(mkdtempSync(path.join(tmpdir(), "mdp-native-")), `${name}.o`);
  const arch = execFileSync("uname", ["-m"]).toString().trim();
  execFileSync("clang", [
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-w",
    `-I/usr/include/${arch}-linux-gnu`,
    "-c",
    path.join(here, "fixtures", `${name}.c`),
    "-o",
    out,
  ]);
  if (!existsSync(out)) throw new Error(`clang produced no ${out}`);
  return out;
}

let n = 0;
export function pinDirFor(tag: string): string {
  return `/sys/fs/bpf/meridian-test-${process.pid}-${tag}-${n++}`;
}
