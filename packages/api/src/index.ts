// @meridian/api: what the web app, the agent and automation import.

export { applyDesiredStateEvent, type DesiredStateEvent, DesiredStateGapError } from "@meridian/model";
export { ChangeFeed, changeFeedFor, feedFor } from "./agent/change-feed";
export { loadSnapshot } from "./agent/snapshot";
export { hashPassword, verifyPassword } from "./auth/crypto";
export { SESSION_TTL_MS } from "./auth/router";
export { EXPORTABLE_KINDS } from "./cilium-io/service";
export { createMeridianClient, type MeridianClient } from "./client";
export { createTrpcFetchHandler } from "./fetch-handler";
export { MAX_BATCH, MAX_BODY_BYTES } from "./limits/http";
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
