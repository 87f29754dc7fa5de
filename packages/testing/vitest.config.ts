import { meridianVitest } from "../../vitest.shared";

// fixtures/ holds suites that real-parts.test.ts runs in a child vitest of their own.
export default meridianVitest("testing", { exclude: ["fixtures/**", "node_modules/**"] });
