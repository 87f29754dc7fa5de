// Test support: starts test-driver.ts (one BgpController) inside the lab's namespace for us and
// returns the JSON-lines driver that talks to it. Shared by the FRR / GoBGP lab tests.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, type Lab } from "@meridian/bgp/testing";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ControllerProcessOptions {
  /** The controller starts as a restarting speaker (RFC 4724 §4.1). */
  restarting?: boolean;
  selectionDeferralSeconds?: number;
}

export async function startControllerIn(lab: Lab, opts: ControllerProcessOptions = {}): Promise<Driver> {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      lab.ours,
      process.execPath,
      "--import",
      "tsx",
      path.join(here, "test-driver.ts"),
      JSON.stringify(opts),
    ],
    { cwd: path.resolve(here, "../../.."), stdio: ["pipe", "pipe", "pipe"] },
  );
  const d = new Driver(child);
  child.stderr!.on("data", (b: Buffer) => {
    d.stderr += b.toString();
  });
  await d.ready;
  return d;
}

/**
 * After the tests: the controller first (it may still hold sessions), then the lab, whose
 * cleanup also kills whatever is left in its namespaces.
 */
export async function stopControllerAndLab(us: Driver | undefined, lab: Lab): Promise<void> {
  if (us && us.child.exitCode === null && us.child.pid) {
    try {
      process.kill(us.child.pid, "SIGKILL");
    } catch {}
  }
  await lab.cleanup();
}
