import { meridianVitest } from "../../vitest.shared";

// Unit tests of the console's server helpers; the console itself is tested in e2e/browser.
export default meridianVitest("web", { include: ["src/**/*.test.ts"] });
