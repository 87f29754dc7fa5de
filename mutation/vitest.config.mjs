// The vitest configuration Stryker runs a module's tests with: only the files listed for the
// module in modules.mjs (MERIDIAN_MUTATION_MODULE names it), from the repository root.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { modules } from "./modules.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const name = process.env.MERIDIAN_MUTATION_MODULE;
const mod = name ? modules[name] : undefined;
if (!mod) throw new Error(`MERIDIAN_MUTATION_MODULE must name a module of mutation/modules.mjs, not ${name}`);

export default defineConfig({
  test: {
    root,
    include: mod.tests,
    // As the packages' own configs: agent tests start real processes, the rest hold real sockets.
    testTimeout: 90_000,
    hookTimeout: 90_000,
    reporters: ["dot"],
  },
});
