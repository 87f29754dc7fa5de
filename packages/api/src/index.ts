// @meridian/api: what a process that hosts the API imports (the console's server, the standalone
// server, e2e and the benchmarks): the router and its context, the handlers that mount it, the
// change feed. The other entries (package.json "exports") are narrower on purpose: /client for the
// agent and automation (no database), /http-limits for the browser, /client-address for the
// console's instrumentation, /server and /seed for processes that run or fill one, /testing for
// tests and benchmarks. Specs, the compiler and the report schemas are @meridian/model.

export { ChangeFeed, changeFeedFor, feedFor } from "./agent/change-feed";
export { loadSnapshot } from "./agent/snapshot";
export { hashPassword, verifyPassword } from "./auth/crypto";
export { SESSION_TTL_MS } from "./auth/router";
export { MAX_IMPORT_OBJECTS } from "./cilium/limits";
export { EXPORTABLE_KINDS } from "./cilium-io/service";
export { createMeridianClient, type MeridianClient } from "./client";
export { createTrpcFetchHandler } from "./fetch-handler";
export { MAX_BATCH, MAX_BODY_BYTES } from "./limits/http";
export { metricsResponse } from "./metrics/handler";
export { createOpenApiDocument, createOpenApiHandler, OPENAPI_BASE } from "./openapi";
export { type AppRouter, appRouter } from "./root";
export { seedDatabase } from "./seed";
export { createHttpHandler, type RunningServer, startServer, TRPC_BASE } from "./server";
export {
  type Caller,
  type Context,
  createCallerFactory,
  createContext,
  flattenFieldErrors,
  type Role,
  SESSION_COOKIE,
  zodIssuesOf,
} from "./trpc";
