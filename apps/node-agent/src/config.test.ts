import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const dir = mkdtempSync(path.join(tmpdir(), "mrd-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("agent configuration", () => {
  it("layers file, environment and flags, later winning", async () => {
    const file = path.join(dir, "a.json");
    writeFileSync(
      file,
      JSON.stringify({ nodeName: "from-file", stateDir: "/file", podCIDRs: ["10.244.1.0/24"] }),
    );
    const c = await loadConfig({
      file,
      env: { MERIDIAN_STATE_DIR: "/env", MERIDIAN_API: "http://cp:3000" },
      flags: { nodeName: "from-flag", joinToken: "mrd_join_x" },
    });
    expect(c).toMatchObject({
      nodeName: "from-flag",
      stateDir: "/env",
      api: "http://cp:3000",
      podCIDRs: ["10.244.1.0/24"],
    });
    expect(c.socketPath).toBe("/run/meridian/agent.sock");
  });

  it("names the field and the reason when a value is wrong", async () => {
    await expect(loadConfig({ flags: { podCIDRs: ["10.244.1.7/24"] } })).rejects.toThrow(
      /podCIDRs\.0: must be a CIDR with no host bits set/,
    );
    await expect(loadConfig({ flags: { api: "not a url" } })).rejects.toThrow(/api: /);
    await expect(loadConfig({ flags: { joinToken: "t" } })).rejects.toThrow(/joinToken is set but api/);
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, "{ nope");
    await expect(loadConfig({ file: bad })).rejects.toThrow(/--config .*bad\.json: not JSON/);
    await expect(loadConfig({ file: path.join(dir, "missing.json") })).rejects.toThrow(
      /missing\.json: ENOENT/,
    );
  });
});
