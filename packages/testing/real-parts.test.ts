import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { filesPart, MissingRealPartsError, needs, part, realPartsRequired } from "./index.js";

const present = part("present", () => null);
const absent = part("a flux capacitor", () => "none fitted to this machine");

describe("real parts a suite needs", () => {
  it("are required on CI (CI=true or 1) and when MERIDIAN_REQUIRE_REAL_PARTS=1, not otherwise", () => {
    expect(realPartsRequired({ CI: "true" })).toBe(true);
    expect(realPartsRequired({ CI: "1" })).toBe(true);
    expect(realPartsRequired({ MERIDIAN_REQUIRE_REAL_PARTS: "1" })).toBe(true);
    expect(realPartsRequired({})).toBe(false);
    expect(realPartsRequired({ CI: "false" })).toBe(false);
    expect(realPartsRequired({ MERIDIAN_REQUIRE_REAL_PARTS: "0" })).toBe(false);
  });

  it("run the suite when every part is there, on CI or not", () => {
    expect(needs("s", [present], { CI: "true" })).toEqual({ skip: false, missing: [] });
    expect(needs("s", [present], {})).toEqual({ skip: false, missing: [] });
  });

  it("outside CI, skip the suite and say which part is missing, without throwing", () => {
    expect(needs("s", [present, absent], {})).toEqual({
      skip: true,
      missing: [{ name: "a flux capacitor", reason: "none fitted to this machine" }],
    });
  });

  it("on CI, fail naming the suite, every missing part and why", () => {
    const two = part("GoBGP", () => "/usr/bin/gobgpd not found");
    let err: unknown;
    try {
      needs("BgpController with FRR", [absent, present, two], { CI: "true" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingRealPartsError);
    expect((err as Error).message).toBe(
      "BgpController with FRR needs real parts that are missing here: a flux capacitor (none fitted to this machine); GoBGP (/usr/bin/gobgpd not found). On CI (CI=true or MERIDIAN_REQUIRE_REAL_PARTS=1) such a suite fails instead of skipping.",
    );
    expect(() => needs("s", [absent], { MERIDIAN_REQUIRE_REAL_PARTS: "1" })).toThrow(/a flux capacitor/);
  });

  it("a file part is there when its files are, and otherwise names the absent ones and how to get them", () => {
    const here = import.meta.filename;
    expect(filesPart("this file", [here], "n/a").missing()).toBeNull();
    expect(
      filesPart("BIRD", [here, "/nonexistent/bird", "/nonexistent/birdc"], "apt-get install bird2").missing(),
    ).toBe("/nonexistent/bird, /nonexistent/birdc not found (apt-get install bird2)");
  });

  it("a real suite file with a missing part: skipped outside CI, a failed file on CI", () => {
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(
        process.execPath,
        [
          path.resolve(import.meta.dirname, "../../node_modules/vitest/vitest.mjs"),
          "run",
          "--config",
          path.join(import.meta.dirname, "fixtures", "vitest.config.ts"),
        ],
        {
          encoding: "utf8",
          env: { ...process.env, CI: "", MERIDIAN_REQUIRE_REAL_PARTS: "", ...env },
          timeout: 60_000,
        },
      );
    const local = run({});
    expect(local.status, local.stdout + local.stderr).toBe(0);
    expect(local.stdout).toMatch(/1 skipped/);
    const ci = run({ CI: "true" });
    expect(ci.status).not.toBe(0);
    expect(ci.stdout + ci.stderr).toContain(
      "the fixture suite needs real parts that are missing here: a flux capacitor (none fitted to this machine)",
    );
  }, 120_000);
});
