// One vitest set-up for every package: each suite writes a JSON report under
// .meridian/test-results/ so that scripts/test.mjs can print the totals of all suites.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type ViteUserConfig } from "vitest/config";

const root = path.dirname(fileURLToPath(import.meta.url));

export function meridianVitest(suite: string, test: NonNullable<ViteUserConfig["test"]> = {}) {
  return defineConfig({
    test: {
      testTimeout: 30_000,
      hookTimeout: 60_000,
      reporters: [
        "default",
        ["json", { outputFile: path.join(root, ".meridian", "test-results", `${suite}.json`) }],
      ],
      ...test,
    },
  });
}
