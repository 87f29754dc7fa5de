// How a new agent knows it replaces one that stopped for a graceful restart: the old one leaves a
// marker in the agent's state directory, the new one takes it before building its BgpController
// (`restarting: true`), so its OPENs carry the R bit only after a real graceful stop.
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const MARKER = "bgp-graceful-stop.json";

/** Call after `controller.stop({ graceful: true })` on shutdown. */
export async function recordGracefulStop(stateDir: string, now = Date.now()): Promise<void> {
  await writeFile(
    path.join(stateDir, MARKER),
    `${JSON.stringify({ stoppedAt: new Date(now).toISOString() })}\n`,
    {
      mode: 0o600,
    },
  );
}

/**
 * Call once at start. True when the previous agent stopped gracefully less than `withinSeconds`
 * ago (peers still hold our routes: use the longest configured restart time, 120 s by default).
 * The marker is removed either way, so a crash loop never claims a restart twice.
 */
export async function takeGracefulStop(
  stateDir: string,
  withinSeconds = 120,
  now = Date.now(),
): Promise<boolean> {
  const file = path.join(stateDir, MARKER);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return false;
  }
  await rm(file, { force: true });
  const at = Date.parse((JSON.parse(text) as { stoppedAt?: string }).stoppedAt ?? "");
  return Number.isFinite(at) && now - at >= 0 && now - at < withinSeconds * 1000;
}
