import { meridianVitest } from "../vitest.shared";

// Browser, lab and npm start suites share one console build and run one file at a time.
export default meridianVitest("e2e", {
  fileParallelism: false,
  testTimeout: 60_000,
  include: ["browser/**/*.test.ts", "lab/**/*.test.ts", "start/**/*.test.ts"],
  globalSetup: ["./one-at-a-time.ts"],
});
