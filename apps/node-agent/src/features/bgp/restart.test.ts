import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recordGracefulStop, takeGracefulStop } from "./restart.js";

const dir = mkdtempSync(path.join(tmpdir(), "mrd-bgp-restart-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("graceful-restart marker", () => {
  it("a fresh start after a graceful stop is a restart, once", async () => {
    const t = Date.now();
    await recordGracefulStop(dir, t);
    expect(await takeGracefulStop(dir, 120, t + 5_000)).toBe(true);
    // Taken: a second start (e.g. a crash loop) must not claim the peers still hold our routes.
    expect(await takeGracefulStop(dir, 120, t + 6_000)).toBe(false);
  });

  it("a stop older than the restart time is not a restart: peers have purged our routes", async () => {
    const t = Date.now();
    await recordGracefulStop(dir, t);
    expect(await takeGracefulStop(dir, 120, t + 121_000)).toBe(false);
  });

  it("no marker (first boot, or a crash) is not a restart", async () => {
    expect(await takeGracefulStop(dir)).toBe(false);
  });
});
