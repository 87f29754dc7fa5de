// Only one console build and one lab can exist on a machine: a second e2e run waits for the first.
// The lock is held by a flock child whose stdin is our pipe, so it is released even if we are killed.
import { spawn } from "node:child_process";

export default async function setup(): Promise<() => void> {
  const holder = spawn("flock", ["/tmp/meridian-e2e-run.lock", "-c", "echo locked; cat >/dev/null"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
  });
  return () => {
    holder.stdin.end();
  };
}
