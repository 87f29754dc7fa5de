// The one place tRPC is set up: context (who is calling), superjson, the error shape the
// console and automation rely on (`fieldErrors` by dotted path), and the role procedures.
import type { Db } from "@meridian/db";
import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError } from "zod";
import type { ChangeFeed } from "./agent/change-feed";
import { resolveCaller } from "./auth/caller";
import { FieldValidationError, fieldErrors } from "./errors";
import {
  databaseErrorToTrpc,
  INTERNAL_PREFIX,
  internalError,
  shortFieldErrors,
  shortMessage,
  shortPath,
} from "./limits/errors";
import { crossOriginProblem } from "./limits/origin";
import { rawInputProblems } from "./limits/raw-input";
import { apiMetrics } from "./metrics/registry";
import { transformer } from "./transformer";

export const SESSION_COOKIE = "meridian_session";

export type Role = "admin" | "operator" | "viewer";

export interface UserPrincipal {
  id: string;
  email: string;
  name: string;
  role: Role;
}

/** Who is calling. Expired or revoked credentials resolve to `anonymous` (they prove nothing). */
export type Caller =
  | { kind: "anonymous" }
  | { kind: "user"; user: UserPrincipal; sessionId: string; role: Role }
  | { kind: "token"; tokenId: string; tokenName: string; user: UserPrincipal; role: Role }
  | { kind: "node"; nodeId: string; nodeName: string };

export interface CreateContextOptions {
  db: Db;
  headers: Headers;
  /** The process's LISTEN/NOTIFY hub; subscriptions need it, plain calls do not. */
  changeFeed?: ChangeFeed;
}

export async function createContext(opts: CreateContextOptions) {
  const caller = await resolveCaller(opts.db, opts.headers);
  return { db: opts.db, headers: opts.headers, changeFeed: opts.changeFeed, caller };
}

export type Context = Awaited<ReturnType<typeof createContext>>;

interface IssueLike {
  path: PropertyKey[];
  message: string;
}

/**
 * The zod issues behind an error. tRPC wraps causes that are not `Error` instances (zod 4's
 * ZodError is not one), so recognise them by shape rather than by class.
 */
export function zodIssuesOf(cause: unknown): IssueLike[] | null {
  if (cause instanceof ZodError) return cause.issues;
  const issues = (cause as { issues?: unknown } | null)?.issues;
  return Array.isArray(issues) ? (issues as IssueLike[]) : null;
}

/** Dotted paths (`spec.egress.0.toCIDR.1`) so a form can put each message beside its field. */
export function flattenFieldErrors(error: { issues: IssueLike[] }): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = shortPath(issue.path).map(String).join(".") || "_";
    out[key] = [...(out[key] ?? []), shortMessage(issue.message)];
  }
  return out;
}

/** What a procedure may declare beyond its OpenAPI route. */
export interface MeridianMeta extends OpenApiMeta {
  /** Fields (dotted, without array indexes) allowed longer than the default string limit. */
  longText?: Record<string, number>;
}

const t = initTRPC
  .context<Context>()
  .meta<MeridianMeta>()
  .create({
    transformer,
    // Stacks never leave the server, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, path, type }) {
      const issues = zodIssuesOf(error.cause);
      // Whatever reached here unexpected (a failing createContext, a bug): a request id, no details.
      const internal = error.code === "INTERNAL_SERVER_ERROR";
      const message = internal
        ? error.message.startsWith(INTERNAL_PREFIX)
          ? error.message // already logged by safeErrors
          : internalError(error.cause ?? error, { path, type })
        : issues
          ? summarise(issues)
          : shortMessage(shape.message);
      return {
        ...shape,
        message,
        data: { ...shape.data, fieldErrors: issues && !internal ? flattenFieldErrors({ issues }) : null },
      };
    },
    sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 40_000 } },
  });

function summarise(issues: IssueLike[]): string {
  const text = issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? `${shortPath(i.path).join(".")}: ` : ""}${shortMessage(i.message)}`)
    .join("; ");
  return issues.length > 10 ? `${text}; and ${issues.length - 10} more` : text;
}

/**
 * The outermost layer of every procedure: a cookie-authenticated write must come from the
 * console's own origin (limits/origin.ts), and whatever fails inside is made safe to return
 * (limits/errors.ts): schema issues cut short, database errors as 4xx, the rest a bare 500.
 */
const safeErrorsLayer = t.middleware(async ({ ctx, type, path, next }) => {
  if (type === "mutation") {
    const problem = crossOriginProblem(ctx.headers);
    if (problem) throw new TRPCError({ code: "FORBIDDEN", message: problem });
  }
  const result = await next();
  if (result.ok) return result;
  const error = result.error;
  // A schema's own issues echo the value; ours (FieldValidationError) were written to be shown.
  const issues = error.cause instanceof FieldValidationError ? null : zodIssuesOf(error.cause);
  if (issues) throw shortFieldErrors(error.code, issues);
  if (error.code === "INTERNAL_SERVER_ERROR") {
    const known = databaseErrorToTrpc(error.cause);
    if (known) throw known;
    throw new TRPCError({
      code: "INTERNAL_SERVER_ERROR",
      message: internalError(error.cause ?? error, { path, type }),
    });
  }
  return result;
});

/** Counts every call and times it (metrics/registry.ts), whatever layer inside answers it. */
const measured = t.middleware(async ({ type, path, next }) => {
  const started = performance.now();
  const result = await next();
  const m = apiMetrics();
  m.requests.inc({ procedure: path, type, code: result.ok ? "OK" : result.error.code });
  m.duration.observe({ procedure: path, type }, (performance.now() - started) / 1000);
  return result;
});

const safeErrors = measured.unstable_pipe(safeErrorsLayer);

/**
 * Runs after the caller is known and before the procedure's own schema: the raw input must be
 * plain, bounded JSON (limits/raw-input.ts), so no key can vanish and no NUL reach the database.
 */
const rawInputGuard = t.middleware(async ({ meta, getRawInput, next }) => {
  const problems = rawInputProblems(await getRawInput(), { longText: meta?.longText });
  if (problems.length > 0) throw fieldErrors(problems);
  return next();
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;
export const mergeRouters = t.mergeRouters;

export const publicProcedure = t.procedure.use(safeErrors).use(rawInputGuard);

const authed = t.middleware(({ ctx, next }) => {
  if (ctx.caller.kind === "anonymous") {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in or send a valid API token" });
  }
  return next({ ctx: { ...ctx, caller: ctx.caller } });
});

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** People and API tokens with at least `min`; node credentials never reach these procedures. */
function requireRole(min: Role) {
  return authed.unstable_pipe(({ ctx, next }) => {
    const caller = ctx.caller;
    if (caller.kind !== "user" && caller.kind !== "token") {
      throw new TRPCError({ code: "FORBIDDEN", message: "node credentials may only use the agent channel" });
    }
    if (RANK[caller.role] < RANK[min]) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: `this needs the ${min} role; you have ${caller.role}`,
      });
    }
    return next({ ctx: { ...ctx, caller, actor: actorOf(caller) } });
  });
}

export const viewerProcedure = t.procedure.use(safeErrors).use(requireRole("viewer")).use(rawInputGuard);
export const operatorProcedure = t.procedure.use(safeErrors).use(requireRole("operator")).use(rawInputGuard);
export const adminProcedure = t.procedure.use(safeErrors).use(requireRole("admin")).use(rawInputGuard);

export const nodeProcedure = t.procedure
  .use(safeErrors)
  .use(
    authed.unstable_pipe(({ ctx, next }) => {
      const caller = ctx.caller;
      if (caller.kind !== "node") {
        throw new TRPCError({
          code: "FORBIDDEN",
          message: "only a node credential may use the agent channel",
        });
      }
      return next({ ctx: { ...ctx, caller, actor: actorOf(caller) } });
    }),
  )
  .use(rawInputGuard);

/** Who a revision is attributed to. */
export interface Actor {
  kind: "user" | "token" | "node" | "system";
  id: string | null;
  name: string;
}

export function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case "user":
      return { kind: "user", id: caller.user.id, name: caller.user.email };
    case "token":
      return { kind: "token", id: caller.tokenId, name: `${caller.user.email} (token ${caller.tokenName})` };
    case "node":
      return { kind: "node", id: caller.nodeId, name: `node ${caller.nodeName}` };
    default:
      return { kind: "system", id: null, name: "system" };
  }
}
