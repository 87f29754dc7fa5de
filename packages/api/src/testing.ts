// @meridian/api/testing: for other packages' tests and for the benchmarks, never for a running
// system. A harness over a fresh migrated database (a caller per role, the change feed), and the
// few internals a benchmark drives or times below the procedures.
export { newSecret } from "./auth/crypto"; // bench/sync, bench/import: credentials written straight to the database
export { dropSummary, queryFlows } from "./flows/service"; // bench/flows: the queries behind flows.query / flows.drops
export { setLocalAnnouncements } from "./revisions/local-feeds"; // bench/latency: its baseline without in-process wake-ups
export { createHarness, errorOf, type Harness, PASSWORD } from "./test/harness";
