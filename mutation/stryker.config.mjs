// StrykerJS over one module of modules.mjs (MERIDIAN_MUTATION_MODULE). Run through
// `npm run mutation -- <module>` (scripts/mutation.mjs), which sets the module and the database.
import { modules } from "./modules.mjs";

const name = process.env.MERIDIAN_MUTATION_MODULE;
const mod = modules[name];
if (!mod) throw new Error(`MERIDIAN_MUTATION_MODULE must name a module of mutation/modules.mjs, not ${name}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "mutation/vitest.config.mjs" },
  checkers: ["typescript"],
  // Written by scripts/mutation.mjs: only the module's files, extending its package's tsconfig.
  tsconfigFile: `mutation/generated/tsconfig.${name}.json`,
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: mod.mutate,
  coverageAnalysis: "perTest",
  // A shared 2-core machine: one test runner and one checker.
  concurrency: Number(process.env.MERIDIAN_MUTATION_CONCURRENCY ?? 1),
  // Tests with real sockets and databases vary in time on a loaded machine.
  timeoutMS: 20_000,
  timeoutFactor: 2,
  // The sandbox is a copy of the checkout (built native addon, BPF objects and Prisma client
  // included: they are not in git but are in the tree); node_modules are linked, not copied.
  // One per module, so that two modules can run at once without one clearing the other's.
  tempDirName: `.stryker-tmp-${name}`,
  ignorePatterns: [
    ".stryker-tmp*",
    ".meridian",
    ".turbo",
    ".next",
    "e2e/artifacts",
    "reports",
    "docs/screenshots",
    "bench",
  ],
  cleanTempDir: true,
  reporters: ["clear-text", "progress-append-only", "json", "html"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 90, low: 80, break: null },
  logLevel: "info",
  fileLogLevel: "off",
};
