import { meridianVitest } from "../../vitest.shared";

// Agent tests start real processes in real namespaces (each Node start transpiles through
// tsx): on a loaded shared machine a single test can take a minute.
export default meridianVitest("node-agent", { testTimeout: 90_000 });
