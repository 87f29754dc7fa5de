// Paths of the built BPF objects (run `npm run build -w @meridian/bpf` first).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const bpfDir = path.dirname(fileURLToPath(import.meta.url));
/** build/, or MERIDIAN_BPF_BUILD_DIR: the BPF mutation script (mutation/run.mjs) points the
 * datapath tests at mutants built in a scratch directory, leaving build/ untouched. */
export const buildDir = process.env.MERIDIAN_BPF_BUILD_DIR || path.join(bpfDir, "build");

/** One object per attach point, plus the pass-through baseline for benchmarks. */
export const programs = ["from_pod", "to_pod", "from_net", "to_net", "passthrough"] as const;
export type ProgramName = (typeof programs)[number];

/** Absolute path of build/<name>.o; the program inside has the same name. */
export function objectPath(name: ProgramName): string {
  return path.join(buildDir, `${name}.o`);
}

/** Throws a clear error when the objects have not been built. */
export function assertBuilt(): void {
  for (const p of programs) {
    if (!existsSync(objectPath(p))) {
      throw new Error(
        `${objectPath(p)} is missing: run \`npm run build -w @meridian/bpf\` (needs clang, bpftool)`,
      );
    }
  }
}
