// The modules `npm run mutation` mutates, each with only the test files that exercise it: Stryker
// then runs, for each mutant, just the tests that cover it (per-test coverage) from this set, so
// a module takes minutes, not the hours a run over every suite would.
//
// `db: true`: the tests need PostgreSQL (scripts/mutation.mjs prepares a migrated template as
// scripts/test.mjs does). `tsconfig`: the package the TypeScript checker compiles mutants in, so
// mutants that would not type-check are discarded instead of counted.

const notTests = ["!**/*.test.ts", "!**/*.test-helpers.ts"];

export const modules = {
  compiler: {
    what: "desired-state compiler and what-if",
    mutate: ["packages/model/src/compiler/*.ts", "packages/model/src/compiler/sections/*.ts", ...notTests],
    tests: ["packages/model/src/compiler/*.test.ts", "packages/model/src/compiler/sections/*.test.ts"],
    tsconfig: "packages/model/tsconfig.json",
    db: false,
  },
  auth: {
    what: "RBAC and auth: sessions, tokens, node credentials, throttling, role checks",
    mutate: ["packages/api/src/auth/*.ts", "packages/api/src/trpc.ts", ...notTests],
    tests: [
      "packages/api/src/auth/*.test.ts",
      "packages/api/src/test/role-matrix.test.ts",
      // The procedure layer over HTTP: actors, origin check, raw-input guard, error shapes, SSE.
      "packages/api/src/trpc.test.ts",
    ],
    tsconfig: "packages/api/tsconfig.json",
    db: true,
  },
  resources: {
    what: "generic resource procedures: create/update/delete, versions and conflicts",
    mutate: ["packages/api/src/resources/*.ts", ...notTests],
    tests: [
      "packages/api/src/resources/*.test.ts",
      "packages/api/src/policies/policies.test.ts",
      "packages/api/src/bgp/bgp.test.ts",
      "packages/api/src/audit/audit.test.ts",
    ],
    tsconfig: "packages/api/tsconfig.json",
    db: true,
  },
  cilium: {
    what: "Cilium YAML import and export",
    mutate: ["packages/api/src/cilium/*.ts", ...notTests],
    tests: ["packages/api/src/cilium/*.test.ts"],
    tsconfig: "packages/api/tsconfig.json",
    db: false,
  },
  "bgp-codec": {
    what: "BGP wire codec (messages, attributes, NLRI, capabilities, RFC 7606 handling)",
    mutate: ["packages/bgp/src/codec/*.ts"],
    tests: ["packages/bgp/tests/codec/*.test.ts"],
    tsconfig: "packages/bgp/tsconfig.json",
    db: false,
  },
  "bgp-fsm-rib": {
    what: "BGP FSM (session, timers) and RIB (best path, policy)",
    mutate: ["packages/bgp/src/session/*.ts", "packages/bgp/src/rib/*.ts"],
    tests: ["packages/bgp/tests/rib/*.test.ts", "packages/bgp/tests/speaker/*.test.ts"],
    tsconfig: "packages/bgp/tsconfig.json",
    db: false,
  },
  agent: {
    what: "node agent: desired-state sync and CNI admission",
    mutate: ["apps/node-agent/src/sync/*.ts", "apps/node-agent/src/agent/endpoints.ts", ...notTests],
    tests: ["apps/node-agent/src/sync/*.test.ts", "apps/node-agent/src/cni/admission.test.ts"],
    tsconfig: "apps/node-agent/tsconfig.json",
    db: true,
  },
};
